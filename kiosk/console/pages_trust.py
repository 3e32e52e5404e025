"""The trust page (/trust, admins): what the collector publishes to its kiosks (trust.cose, status.cose: sequence,
issued, age), and an upload form that publishes a new one once the kiosk's own import rules accept it
(kiosk/console/trust_publish.py). A refused file is said in one line and never published. Every upload, taken
or refused, is in the console's trail.

    POST /trust   multipart: file (a trust.cose or status.cose, at most UPLOAD_LIMIT bytes), csrf_token
"""

from __future__ import annotations

import hashlib

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from kiosk.console.forms import actor
from kiosk.console.trust_publish import publish, published
from kiosk.console.web import ConsoleParts, Page, call, needs, render, translator
from kiosk.device_names import printable
from kiosk.errors import ImportRefused
from kiosk.fileio import CAPS

UPLOAD_LIMIT = CAPS["trust file"]  # bytes of one file: what a kiosk's import accepts (a city's status list)
FORM_ROOM = 64 * 1024  # bytes of the multipart form around the file

WORDS = {
    "trust.title": ("信任数据发布", "Trust files"),
    "trust.published": ("已发布的文件", "Published to the kiosks"),
    "trust.nothing": ("尚未发布任何信任文件", "No trust file is published yet"),
    "trust.not_configured": ("未配置：启动采集服务时需指定 --trust-files（发布目录）和 "
                             "--trust-root（固定的根公钥目录）",
                             "Not set up: start the collector with --trust-files (where it publishes) and "
                             "--trust-root (the folder of pinned root keys)"),
    "trust.file": ("文件", "File"),
    "trust.kind": ("类型", "Kind"),
    "trust.kind.trust bundle": ("信任包", "trust bundle"),
    "trust.kind.status list": ("状态名单", "status list"),
    "trust.seq": ("版本号", "Sequence"),
    "trust.issued": ("签发时间", "Issued"),
    "trust.age": ("已签发", "Age"),
    "trust.published_at": ("发布时间", "Published"),
    "trust.size": ("大小（字节）", "Size (bytes)"),
    "trust.contents": ("内容", "Contents"),
    "trust.keys": ("{count}个签发密钥", "{count} issuer keys"),
    "trust.key": ("1个签发密钥", "1 issuer key"),
    "trust.entries": ("{issuer}：{count}条", "{issuer}: {count} entries"),
    "trust.entry": ("{issuer}：1条", "{issuer}: 1 entry"),
    "trust.problem": ("终端会拒绝此文件：{problem}", "Kiosks would refuse it: {problem}"),
    "trust.upload": ("上传并发布", "Upload and publish"),
    "trust.upload_hint": ("trust.cose 或 status.cose；先按终端的导入规则用固定的根公钥验证，通过后才发布",
                          "trust.cose or status.cose: checked against the pinned root with the kiosks' own import "
                          "rules, published only if it passes"),
    "trust.choose": ("请选择文件", "Choose a file"),
    "trust.done": ("已发布{kind}（版本{seq}）", "Published the {kind} (sequence {seq})"),
    "trust.same": ("{kind}版本{seq}已发布，内容相同，未更改", "The {kind} sequence {seq} is published already: "
                                                              "nothing changed"),
    "trust.refused": ("已拒绝，未发布：{problem}", "Refused, not published: {problem}"),
    "trust.too_big": ("文件过大：最多{limit}字节", "Too large: at most {limit} bytes"),
}


async def _page(request: Request, parts: ConsoleParts, *, status: int = 200, messages: tuple[str, ...] = (),
                tone: str = "ok") -> Response:
    ready = parts.trust_root is not None and parts.trust_files is not None
    files = await call(published, parts.trust_root, parts.trust_files) \
        if parts.trust_root is not None and parts.trust_files is not None else []
    return render(request, "trust.html", status=status, ready=ready, files=files, messages=messages, tone=tone,
                  now=request.state.now, limit=UPLOAD_LIMIT)


@needs("trust")
async def trust_page(request: Request, parts: ConsoleParts) -> Response:
    return await _page(request, parts)


@needs("trust")
async def trust_upload(request: Request, parts: ConsoleParts) -> Response:
    t = translator(request)
    if parts.trust_root is None or parts.trust_files is None:
        return await _page(request, parts, status=409, messages=(t("trust.not_configured"),), tone="alarm")
    upload = request.state.form.get("file")
    if not isinstance(upload, UploadFile):
        return await _page(request, parts, status=400, messages=(t("trust.choose"),), tone="alarm")
    name = printable(upload.filename or "")[:64] or "upload"
    data = await upload.read(UPLOAD_LIMIT + 1)
    who, address, now = actor(request)
    detail: dict[str, object] = {"file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if len(data) > UPLOAD_LIMIT:
        await call(parts.trail.append, who, "upload", {**detail, "outcome": "refused", "problem": "too large"},
                   address, now)
        return await _page(request, parts, status=413, messages=(t("trust.too_big", limit=UPLOAD_LIMIT),),
                           tone="alarm")
    try:
        installed = await call(publish, data, name, parts.trust_root, parts.trust_files)
    except ImportRefused as err:
        problem = " ".join(err.problem.split())[:300]
        await call(parts.trail.append, who, "upload", {**detail, "outcome": "refused", "problem": problem},
                   address, now)
        return await _page(request, parts, status=422, messages=(t("trust.refused", problem=problem),),
                           tone="alarm")
    outcome = "unchanged" if installed.unchanged else "published"
    await call(parts.trail.append, who, "upload", {**detail, "outcome": outcome, "kind": installed.kind,
                                                   "seq": installed.seq}, address, now)
    kind = t(f"trust.kind.{installed.kind}")
    said = t("trust.same" if installed.unchanged else "trust.done", kind=kind, seq=installed.seq)
    return await _page(request, parts, messages=(said, *(" ".join(w.split())[:300] for w in installed.warnings)))


PAGES = [
    Page("/trust", trust_page, nav=("信任数据", "Trust"), order=70),
    Page("/trust", trust_upload, methods=("POST",), max_body=UPLOAD_LIMIT + FORM_ROOM),
]
