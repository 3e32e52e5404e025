"""The users page (/users, admins): every console account (role, sites, disabled, second factor, open sessions),
and the forms that add one, disable or enable it, give it a new password or second-factor secret, and end its
sessions. kiosk/console/users.py and auth.py do the work and record every change in the console's trail.

    POST /users/add       name, role, sites (one a line; empty: every site), password, password2
    POST /users/password  name, password, password2
    POST /users/disable | /users/enable | /users/sessions | /users/totp    name

A new admin or tracer account, and a new second-factor secret, is shown once, on the answer to that POST (the
page is never cached): its base32 text, its otpauth:// link and that link as a QR code to scan.
"""

from __future__ import annotations

from collections import Counter

import segno
from starlette.requests import Request
from starlette.responses import Response

from kiosk.console.accounts import MAX_NAME, MAX_SITES, ROLES
from kiosk.console.forms import actor, field, raw
from kiosk.console.passwords import MAX_LENGTH
from kiosk.console.totp import to_base32, uri
from kiosk.console.web import ConsoleParts, Page, call, needs, render, translator
from kiosk.errors import KioskError, NoSuchAccount

WORDS = {
    "users.title": ("用户管理", "Users"),
    "users.name": ("用户名", "Name"),
    "users.role": ("角色", "Role"),
    "users.sites": ("场所", "Sites"),
    "users.all_sites": ("全部场所", "every site"),
    "users.state": ("状态", "State"),
    "users.enabled": ("正常", "enabled"),
    "users.disabled": ("已停用", "disabled"),
    "users.second_factor": ("动态验证码", "Second factor"),
    "users.yes": ("已设置", "set"),
    "users.no": ("无", "none"),
    "users.sessions": ("在线会话", "Sessions"),
    "users.last_login": ("最近登录", "Last login"),
    "users.actions": ("操作", "Actions"),
    "users.disable": ("停用", "Disable"),
    "users.enable": ("启用", "Enable"),
    "users.end_sessions": ("结束会话", "End sessions"),
    "users.new_totp": ("重置动态验证码", "New second factor"),
    "users.set_password": ("重设密码", "Set password"),
    "users.password": ("密码", "Password"),
    "users.password2": ("再次输入密码", "Password again"),
    "users.sites_hint": ("每行一个场所；留空表示全部场所（系统管理员必须留空）",
                         "One site a line; empty: every site (an admin's must be empty)"),
    "users.add": ("添加用户", "Add an account"),
    "users.added": ("已添加用户{name}", "Added the account {name}"),
    "users.changed": ("已更改用户{name}", "Changed the account {name}"),
    "users.ended": ("已结束{name}的{count}个会话", "Ended {count} sessions of {name}"),
    "users.mismatch": ("两次输入的密码不一致", "The two passwords differ"),
    "users.self": ("不能停用自己的账户", "You cannot disable your own account"),
    "users.secret": ("{name}的动态验证码密钥（只显示这一次，请立即添加到验证器应用）",
                     "The second-factor secret of {name} (shown this once: add it to an authenticator app now)"),
}
SITES_LIMIT = MAX_SITES * (MAX_NAME + 2)  # characters of the sites field


async def _page(request: Request, parts: ConsoleParts, *, status: int = 200, message: str | None = None,
                tone: str = "ok", secret: tuple[str, bytes] | None = None) -> Response:
    users = await call(parts.users.list)
    sessions = Counter(s.name for s in await call(parts.auth.sessions))
    shown = None
    if secret is not None:
        link = uri(secret[1], secret[0])
        shown = {"name": secret[0], "text": to_base32(secret[1]), "link": link,
                 "qr": segno.make(link, error="m").svg_data_uri(scale=4)}
    return render(request, "users.html", status=status, users=users, sessions=sessions, message=message, tone=tone,
                  secret=shown, roles=ROLES, me=request.state.account.name)


def _sites(text: str) -> frozenset[str] | None:
    sites = frozenset(line.strip() for line in text.splitlines() if line.strip())
    return sites or None


def _password(request: Request) -> str:
    password = raw(request, "password", MAX_LENGTH + 1)
    if password != raw(request, "password2", MAX_LENGTH + 1):
        raise ValueError(translator(request)("users.mismatch"))
    return password


async def _doing(request: Request, parts: ConsoleParts, work: str) -> Response:
    """One change of an account, its outcome said on the users page (a refusal in one line, 400 or 404)."""
    t = translator(request)
    who, address, _ = actor(request)
    try:
        name = field(request, "name", MAX_NAME, required=True, label=t("users.name"))
        secret: bytes | None = None
        if work == "add":
            sites = field(request, "sites", SITES_LIMIT, label=t("users.sites"), lines=True)
            added = await call(parts.users.add, name, field(request, "role", 16), _sites(sites), _password(request),
                               actor=who, address=address)
            secret, said = added.totp_secret, t("users.added", name=name)
        elif work == "password":
            await call(parts.users.passwd, name, _password(request), actor=who, address=address)
            said = t("users.changed", name=name)
        elif work == "disable":
            if name == who:
                raise ValueError(t("users.self"))
            await call(parts.users.disable, name, actor=who, address=address)
            said = t("users.changed", name=name)
        elif work == "enable":
            await call(parts.users.enable, name, actor=who, address=address)
            said = t("users.changed", name=name)
        elif work == "totp":
            secret = await call(parts.users.reset_totp, name, actor=who, address=address)
            said = t("users.changed", name=name)
        else:
            if await call(parts.users.get, name) is None:
                raise NoSuchAccount(name)
            ended = await call(parts.auth.end_sessions, name, who, address, request.state.now)
            said = t("users.ended", name=name, count=ended)
    except NoSuchAccount as err:
        return await _page(request, parts, status=404, message=str(err), tone="alarm")
    except (KioskError, ValueError) as err:
        return await _page(request, parts, status=400, message=" ".join(str(err).split())[:300], tone="alarm")
    return await _page(request, parts, message=said, secret=(name, secret) if secret is not None else None)


@needs("users")
async def users_page(request: Request, parts: ConsoleParts) -> Response:
    return await _page(request, parts)


def _change(work: str) -> Page:
    @needs("users")
    async def handler(request: Request, parts: ConsoleParts) -> Response:
        return await _doing(request, parts, work)

    handler.__name__ = f"users_{work}"
    return Page(f"/users/{work}", handler, methods=("POST",))


PAGES = [
    Page("/users", users_page, nav=("用户", "Users"), order=80),
    *(_change(work) for work in ("add", "password", "disable", "enable", "sessions", "totp")),
]
