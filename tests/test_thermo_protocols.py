"""Thermometer protocols: each parser on a table of frames, device <-> driver round trips, parsers on random bytes."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.thermometer import gy906, modbus, protocols, textline
from kiosk.thermometer.modbus import crc16_modbus, with_crc
from kiosk.thermometer.protocols import make_device, make_driver
from kiosk.thermometer.types import Driver, Sample

fast = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def feed(driver: Driver, data: bytes, cuts: Iterable[int] = ()) -> tuple[list[Sample], bytearray]:
    """Everything `driver` finds in `data` arriving in chunks cut at `cuts`, and what is left over."""
    buffer, samples = bytearray(), []
    points = sorted({c for c in cuts if 0 < c < len(data)})
    for start, end in zip([0, *points], [*points, len(data)]):
        buffer += data[start:end]
        samples += driver.parse(buffer)
    return samples, buffer


def byte_by_byte(data: bytes) -> range:
    return range(1, len(data))


def pairs(samples: list[Sample]) -> list[tuple[float, float | None]]:
    """(object, ambient) of each sample, rounded well below any resolution so that 36.6 compares equal."""
    return [(round(s.object_c, 6), None if s.ambient_c is None else round(s.ambient_c, 6)) for s in samples]


# --- GY-906 -------------------------------------------------------------------------------------------------

DATASHEET = bytes.fromhex("5A5A45040C780D19A7")  # object 31.92, ambient 33.53
FRAME = gy906.encode_frame(36.6, 25.0)
NEGATIVE = gy906.encode_frame(-5.25, -20.0)
FIVES = gy906.encode_frame(231.30, 231.30)  # 0x5A5A hundredths: a frame head inside the data
BAD_SUM = FRAME[:8] + bytes(((FRAME[8] + 1) & 0xFF,))

GY906_CASES = [  # id, bytes, (object, ambient) found, errors, left over
    ("datasheet example", DATASHEET, [(31.92, 33.53)], 0, b""),
    ("negative temperatures", NEGATIVE, [(-5.25, -20.0)], 0, b""),
    ("two frames", FRAME + NEGATIVE, [(36.6, 25.0), (-5.25, -20.0)], 0, b""),
    ("garbage before", b"\x00\xff\x5a\x13" + FRAME, [(36.6, 25.0)], 4, b""),
    ("garbage between", FRAME + b"\xa5\x15" + FRAME, [(36.6, 25.0)] * 2, 2, b""),
    ("bad checksum, then a good frame", BAD_SUM + FRAME, [(36.6, 25.0)], 9, b""),
    ("wrong type byte", b"\x5a\x5a\x46\x04" + FRAME[4:] + FRAME, [(36.6, 25.0)], 9, b""),
    ("wrong length byte", FRAME[:3] + b"\x02" + FRAME, [(36.6, 25.0)], 4, b""),
    ("frame head inside the data", FIVES, [(231.3, 231.3)], 0, b""),
    ("cut-off frame, then a frame", FRAME[:6] + FRAME, [(36.6, 25.0)], 6, b""),
    ("cut-off frame of 5A 5A data, then a frame", FIVES[:7] + FRAME, [(36.6, 25.0)], 7, b""),
    ("incomplete frame waits", FRAME[:6], [], 0, FRAME[:6]),
    ("a last 5A waits", b"\x01\x02\x5a", [], 2, b"\x5a"),
    ("max and min", gy906.encode_frame(1e6, -1e6), [(327.67, -327.68)], 0, b""),
]


@pytest.mark.parametrize(
    ("data", "found", "errors", "left"), [c[1:] for c in GY906_CASES], ids=[c[0] for c in GY906_CASES]
)
@pytest.mark.parametrize("split", ["whole", "byte by byte"])
def test_gy906_parser(data: bytes, found: list[tuple[float, float]], errors: int, left: bytes, split: str) -> None:
    driver = gy906.Driver()
    samples, buffer = feed(driver, data, byte_by_byte(data) if split != "whole" else ())
    assert pairs(samples) == found
    assert (driver.errors, bytes(buffer)) == (errors, left)


def test_gy906_datasheet_example_both_ways() -> None:
    assert gy906.parse_frame(DATASHEET) == Sample(31.92, 33.53)
    assert gy906.encode_frame(31.92, 33.53) == DATASHEET


@pytest.mark.parametrize("frame", [b"", DATASHEET[:8], DATASHEET + b"\x00", BAD_SUM, b"\xff" * 9, FIVES[:4] * 3])
def test_gy906_parse_frame_refuses_anything_but_one_frame(frame: bytes) -> None:
    assert gy906.parse_frame(frame) is None


def test_gy906_driver_asks_unless_continuous() -> None:
    assert gy906.Driver().request() == bytes.fromhex("A515BA")
    assert gy906.Driver(continuous=True).request() is None


def test_gy906_device_answers_queries_and_ignores_noise() -> None:
    device, sample = gy906.Device(), Sample(36.6, 25.0)
    received = bytearray(b"\x00\xa5\x99" + gy906.QUERY + b"\x77" + gy906.QUERY + b"\xa5\x15")
    assert device.answer(received, sample) == FRAME * 2
    assert received == b"\xa5\x15"  # the start of a query still on its way
    received += b"\xba"
    assert device.answer(received, None) == b"" and received == b""
    assert device.stream(sample) == b""


def test_gy906_device_streams_once_told_to() -> None:
    device = gy906.Device()
    assert device.answer(bytearray(gy906.START_CONTINUOUS), Sample(36.6)) == b""
    assert device.stream(Sample(36.6, 25.0)) == FRAME
    assert device.stream(Sample(36.6)) == gy906.encode_frame(36.6, 0.0)  # no ambient in the sample: 0


# --- text lines ---------------------------------------------------------------------------------------------

T = "T={object}"
CSV = "%{distance},{object},{ambient}"
LONG = b"T=" + b"1" * 300

TEXT_CASES = [  # id, template, bytes, samples, errors, left over
    ("crlf", T, b"T=36.60\r\n", [Sample(36.6)], 0, b""),
    ("lf", T, b"T=36.60\n", [Sample(36.6)], 0, b""),
    ("cr", T, b"T=36.60\r", [Sample(36.6)], 0, b""),
    ("mixed ends", T, b"T=1\rT=2\nT=3\r\nT=4\n\r", [Sample(1), Sample(2), Sample(3), Sample(4)], 0, b""),
    ("blank lines", T, b"\r\n\n \t\r\nT=1\n", [Sample(1)], 0, b""),
    ("signs, bare points", T, b"T=-3.5\nT=+2\nT=.5\nT=7.\n", [Sample(-3.5), Sample(2), Sample(0.5), Sample(7)], 0, b""),
    ("three values", CSV, b"%12.00,36.60,25.00\r\n", [Sample(36.6, 25.0, 12.0)], 0, b""),
    ("dtostrf padding and trailing blanks", CSV, b"%  12.0,  36.6, -1.5 \t\r\n", [Sample(36.6, -1.5, 12.0)], 0, b""),
    ("literal must match", T, b"X=36.6\nT:36.6\nT=36.6C\nT=\n36.6\n", [], 5, b""),
    ("not a number", T, b"T=nan\nT=1e3\nT=1,5\nT=--1\nT=1.2.3\n", [], 5, b""),
    ("missing field", CSV, b"%12.00,36.60\r\n", [], 1, b""),
    ("binary noise", T, b"\xff\xfe\x00\nT=1\n", [Sample(1)], 1, b""),
    ("no line end yet", T, b"T=1\nT=36.6", [Sample(1)], 0, b"T=36.6"),
    ("too long, then a line", T, LONG + b"\r\nT=2\n", [Sample(2)], 1, b""),
    ("too long and unfinished", T, LONG, [], 1, b""),
    ("256 bytes is not too long", T, b"T=" + b"0" * 254 + b"\n", [Sample(0)], 0, b""),
    ("literal braces", "{{{object}}}", b"{36.6}\n", [Sample(36.6)], 0, b""),
    ("non-ASCII literal", "{object} °C", "36.6 °C\n".encode(), [Sample(36.6)], 0, b""),
]


@pytest.mark.parametrize(
    ("template", "data", "found", "errors", "left"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
@pytest.mark.parametrize("split", ["whole", "byte by byte"])
def test_textline_parser(template: str, data: bytes, found: list[Sample], errors: int, left: bytes, split: str) -> None:
    driver = textline.Driver(template)
    samples, buffer = feed(driver, data, byte_by_byte(data) if split != "whole" else ())
    assert (samples, driver.errors, bytes(buffer)) == (found, errors, left)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("T=", "no {object}"),
        ("", "no {object}"),
        ("T={temp}", "unknown placeholder {temp}"),
        ("T={Object}", "unknown placeholder {Object}"),
        ("T={object", "unbalanced '{'"),
        ("T=object}", "unbalanced '}'"),
        ("{{object}", "unbalanced '}'"),
        ("{object}{ambient}", "need text between"),
        ("{object},{object}", "twice"),
        ("T={object}\r\n", "CR or LF"),
    ],
)
def test_textline_bad_templates_are_refused(template: str, problem: str) -> None:
    for build in (textline.Driver, textline.Device):
        with pytest.raises(ValueError, match=re.escape(problem)):
            build(template)


def test_textline_device_renders_two_decimals_and_zero_for_what_it_lacks() -> None:
    device = textline.Device(CSV)
    assert device.stream(Sample(36.6, 25.0, 12.5)) == b"%12.50,36.60,25.00\r\n"
    assert device.stream(Sample(-0.004)) == b"%0.00,-0.00,0.00\r\n"
    received = bytearray(b"R\n")
    assert device.answer(received, Sample(36.6)) == b"" and received == b""  # a streaming bridge ignores input


def test_textline_polled_line_device_answers_each_request_line() -> None:
    device = textline.Device(T, request=b"R\n")
    received = bytearray(b"R\r\nXR\nR\nR")
    assert device.answer(received, Sample(36.6)) == b"T=36.60\r\n" * 2
    assert received == b"R" and device.stream(Sample(36.6)) == b""  # a polled bridge waits to be asked
    received += b"\n"
    assert device.answer(received, None) == b"" and received == b""


def test_textline_polled_character_device_answers_each_character() -> None:
    device = textline.Device(T, request=b"RD")
    received = bytearray(b"xRDRDyR")
    assert device.answer(received, Sample(1)) == b"T=1.00\r\n" * 2
    assert received == b"R"
    received += b"D"
    assert device.answer(received, Sample(2)) == b"T=2.00\r\n" and received == b""


def test_textline_driver_request() -> None:
    assert textline.Driver(T).request() is None
    assert textline.Driver(T, request=b"R\n").request() == b"R\n"
    with pytest.raises(ValueError, match="poll request"):
        textline.Driver(T, request=b"\r\n")


# --- Modbus RTU ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "crc"),
    [
        ("01 04 00 00 00 01", "31 CA"),
        ("01 03 00 00 00 01", "84 0A"),
        ("01 03 00 00 00 0A", "C5 CD"),
        ("11 03 00 6B 00 03", "76 87"),  # the Modbus over serial line guide's example
    ],
)
def test_crc16_modbus_vectors(body: str, crc: str) -> None:
    assert with_crc(bytes.fromhex(body)) == bytes.fromhex(body + crc)
    assert crc16_modbus(bytes.fromhex(body + crc)) == 0


def test_crc16_modbus_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37 and crc16_modbus(b"") == 0xFFFF


@fast
@given(st.binary(max_size=64))
def test_crc16_modbus_of_a_frame_with_its_crc_is_zero(body: bytes) -> None:
    assert crc16_modbus(with_crc(body)) == 0


def reply(slave: int, function: int, *registers: int) -> bytes:
    data = b"".join(r.to_bytes(2, "big") for r in registers)
    return with_crc(bytes((slave, function, len(data))) + data)


GOOD = reply(1, 4, 366)
BAD_CRC = GOOD[:-1] + bytes((GOOD[-1] ^ 1,))
ECHO = bytes.fromhex("01 04 00 00 00 01 31 CA")

MODBUS_CASES = [  # id, driver options, bytes, (object, ambient) found, errors, left over
    ("one register", {}, GOOD, [(36.6, None)], 0, b""),
    ("negative", {}, reply(1, 4, 0xFF85), [(-12.3, None)], 0, b""),
    ("unsigned", {"signed": False}, reply(1, 4, 0xFF85), [(6541.3, None)], 0, b""),
    ("scale 0.01", {"scale": 0.01}, reply(1, 4, 3660), [(36.6, None)], 0, b""),
    ("with ambient", {"ambient_register": 1}, reply(1, 4, 366, 0xFF85), [(36.6, -12.3)], 0, b""),
    ("holding, slave 3", {"slave": 3, "function": 3}, reply(3, 3, 366), [(36.6, None)], 0, b""),
    ("garbage before", {}, b"\x00\x99\x04" + GOOD, [(36.6, None)], 3, b""),
    ("garbage between", {}, GOOD + b"\x01\x01" + GOOD, [(36.6, None)] * 2, 2, b""),
    ("another slave", {}, reply(2, 4, 1) + GOOD, [(36.6, None)], 7, b""),
    ("another slave whose data holds ours", {}, reply(2, 4, 0x0104) + GOOD, [(36.6, None)], 7, b""),
    ("bad crc", {}, BAD_CRC + GOOD, [(36.6, None)], 7, b""),
    ("unexpected byte count", {}, reply(1, 4, 1, 2) + GOOD, [(36.6, None)], 9, b""),
    ("other function", {}, reply(1, 3, 366) + GOOD, [(36.6, None)], 7, b""),
    ("exception response", {}, with_crc(b"\x01\x84\x02") + GOOD, [(36.6, None)], 1, b""),
    ("echo of our request", {}, ECHO + GOOD, [(36.6, None)], 0, b""),
    ("incomplete frame waits", {}, GOOD[:6], [], 0, GOOD[:6]),
]


@pytest.mark.parametrize(
    ("options", "data", "found", "errors", "left"), [c[1:] for c in MODBUS_CASES], ids=[c[0] for c in MODBUS_CASES]
)
@pytest.mark.parametrize("split", ["whole", "byte by byte"])
def test_modbus_parser(
    options: dict[str, Any], data: bytes, found: list[tuple[float, float | None]], errors: int, left: bytes, split: str
) -> None:
    driver = modbus.Driver(**options)
    samples, buffer = feed(driver, data, byte_by_byte(data) if split != "whole" else ())
    assert pairs(samples) == found
    assert (driver.errors, bytes(buffer)) == (errors, left)


def test_modbus_exception_is_kept() -> None:
    driver = modbus.Driver()
    assert driver.parse(bytearray(with_crc(b"\x01\x84\x02"))) == [] and driver.last_exception == 2


@pytest.mark.parametrize(
    ("options", "frame"),
    [
        ({}, "01 04 00 00 00 01 31 CA"),
        ({"slave": 3, "function": 3, "register": 1}, with_crc(bytes.fromhex("03 03 00 01 00 01")).hex(" ")),
        ({"register": 0x1234, "ambient_register": 0x1235}, with_crc(bytes.fromhex("01 04 12 34 00 02")).hex(" ")),
        ({"register": 5, "ambient_register": 4}, with_crc(bytes.fromhex("01 04 00 05 00 01")).hex(" ")),
    ],
)
def test_modbus_request(options: dict[str, Any], frame: str) -> None:
    assert modbus.Driver(**options).request() == bytes.fromhex(frame)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"slave": 0}, "slave"),
        ({"slave": 248}, "slave"),
        ({"function": 6}, "function"),
        ({"register": 70000}, "register"),
        ({"register": 2, "ambient_register": 2}, "differ"),
        ({"scale": 0}, "scale"),
        ({"scale": math.nan}, "scale"),
    ],
)
def test_modbus_bad_settings_are_refused(options: dict[str, Any], problem: str) -> None:
    for build in (modbus.Driver, modbus.Device):
        with pytest.raises(ValueError, match=problem):
            build(**options)


def request(slave: int, function: int, register: int, count: int) -> bytearray:
    return bytearray(with_crc(bytes((slave, function, *divmod(register, 256), *divmod(count, 256)))))


@pytest.mark.parametrize(
    ("received", "answer", "left"),
    [
        (request(1, 4, 0, 1), reply(1, 4, 366), 0),
        (request(1, 4, 9, 1), reply(1, 4, 0xFF85), 0),  # the ambient alone: it need not be next to the object
        (request(1, 4, 1, 1), with_crc(b"\x01\x84\x02"), 0),  # unknown register
        (request(1, 4, 0, 2), with_crc(b"\x01\x84\x02"), 0),
        (request(1, 3, 0, 1), with_crc(b"\x01\x83\x01"), 0),  # the other function
        (request(1, 4, 0, 0), with_crc(b"\x01\x84\x03"), 0),
        (request(2, 4, 0, 1), b"", 0),  # another slave
        (request(1, 4, 0, 1)[:-1] + b"\x00", b"", 7),  # bad crc: the rest may be the start of a request
        (bytearray(b"\x55") + request(2, 4, 0, 1) + request(1, 4, 0, 1) * 2, reply(1, 4, 366) * 2, 0),
    ],
)
def test_modbus_device(received: bytearray, answer: bytes, left: int) -> None:
    device = modbus.Device(register=0, ambient_register=9)
    assert device.answer(received, Sample(36.6, -12.3)) == answer
    assert len(received) == left


def test_modbus_device_is_silent_without_a_sample_and_never_streams() -> None:
    device, received = modbus.Device(), request(1, 4, 0, 1)
    assert device.answer(received, None) == b"" and received == b""
    assert device.stream(Sample(36.6)) == b""
    partial = request(1, 4, 0, 1)[:5]
    assert device.answer(partial, Sample(36.6)) == b"" and len(partial) == 5  # waits for the rest


def test_modbus_device_clamps_to_the_register() -> None:
    assert modbus.Device().answer(request(1, 4, 0, 1), Sample(5000.0)) == reply(1, 4, 0x7FFF)
    assert modbus.Device(signed=False).answer(request(1, 4, 0, 1), Sample(-5.0)) == reply(1, 4, 0)


# --- registry -----------------------------------------------------------------------------------------------


def test_registry_builds_each_protocol() -> None:
    assert protocols.PROTOCOLS == ("gy906", "textline", "modbus") == tuple(protocols.OPTIONS)
    assert make_driver("gy906", {"continuous": True}).request() is None
    assert make_driver("textline", {"template": T, "request": "R\n"}).request() == b"R\n"
    assert make_driver("modbus", {"slave": 3, "register": 1, "scale": 0.1, "function": 3}).request() == bytes(
        request(3, 3, 1, 1)
    )
    assert make_driver("modbus", {"scale": 1}).parse(bytearray(GOOD)) == [Sample(366.0)]
    assert isinstance(make_device("textline", {"template": T}), textline.Device)
    assert isinstance(make_device("modbus", {}), modbus.Device)


@pytest.mark.parametrize(
    ("name", "options", "problem"),
    [
        ("mlx", {}, "unknown thermometer protocol 'mlx'"),
        ("gy906", {"baud": 9600}, "unknown gy906 option.*baud"),
        ("gy906", {"continuous": 1}, "continuous must be true or false"),
        ("textline", {}, "needs a template"),
        ("textline", {"template": 5}, "template must be a string"),
        ("textline", {"template": "T={temp}"}, "unknown placeholder"),
        ("modbus", {"slave": "3"}, "slave must be an integer"),
        ("modbus", {"slave": True}, "slave must be an integer"),
        ("modbus", {"scale": "0.1"}, "scale must be an integer or a number"),
        ("modbus", {"slave": 0}, "slave must be 1..247"),
        ("modbus", {"template": T}, "unknown modbus option.*template"),
    ],
)
def test_registry_refuses_what_it_does_not_know(name: str, options: Mapping[str, object], problem: str) -> None:
    for make in (make_driver, make_device):
        with pytest.raises(ValueError, match=problem):
            make(name, options)


# --- round trips and properties -----------------------------------------------------------------------------

CONFIGS = [  # protocol, options, carries ambient, carries distance, resolution in degrees
    ("gy906", {}, True, False, 0.01),
    ("gy906", {"continuous": True}, True, False, 0.01),
    ("textline", {"template": T}, False, False, 0.01),
    ("textline", {"template": CSV}, True, True, 0.01),
    ("textline", {"template": T, "request": "R\n"}, False, False, 0.01),
    ("textline", {"template": "{object}", "request": "R"}, False, False, 0.01),
    ("modbus", {}, False, False, 0.1),
    ("modbus", {"slave": 3, "register": 1, "scale": 0.1, "function": 3}, False, False, 0.1),
    ("modbus", {"register": 7, "ambient_register": 8, "scale": 0.01}, True, False, 0.01),
    ("modbus", {"signed": False, "scale": 0.01, "ambient_register": 1}, True, False, 0.01),
]
CONFIG_IDS = [f"{c[0]}-{c[1]}" for c in CONFIGS]
# one of each parser (polling or not changes only the device): the properties below cost time
PARSERS = [CONFIGS[i] for i in (0, 2, 3, 7, 9)]
PARSER_IDS = [f"{c[0]}-{c[1]}" for c in PARSERS]

temperatures = st.floats(-40, 125)
samples = st.builds(Sample, temperatures, st.none() | temperatures, st.none() | st.floats(0, 500))


def exchange(name: str, options: Mapping[str, object], sample: Sample) -> tuple[Driver, bytes]:
    """What the device sends for one poll of the driver (or by itself, if the driver does not poll)."""
    driver, device = make_driver(name, options), make_device(name, options)
    asked = driver.request()
    return driver, device.stream(sample) if asked is None else device.answer(bytearray(asked), sample)


@pytest.mark.parametrize(("name", "options", "ambient", "distance", "step"), CONFIGS, ids=CONFIG_IDS)
@fast
@given(sample=samples)
def test_round_trip(
    name: str, options: Mapping[str, object], ambient: bool, distance: bool, step: float, sample: Sample
) -> None:
    if options.get("signed") is False:  # an unsigned register holds no frost
        sample = Sample(abs(sample.object_c), sample.ambient_c and abs(sample.ambient_c), sample.distance)
    driver, data = exchange(name, options, sample)
    found = driver.parse(bytearray(data))
    assert len(found) == 1 and driver.errors == 0
    got, close = found[0], pytest.approx  # within half a step of the wire format, None when it has no field
    assert got.object_c == close(sample.object_c, abs=step / 2 + 1e-9)
    assert got.ambient_c == (close(sample.ambient_c or 0.0, abs=step / 2 + 1e-9) if ambient else None)
    assert got.distance == (close(sample.distance or 0.0, abs=step / 2 + 1e-9) if distance else None)


def stream_of(name: str, options: Mapping[str, object]) -> st.SearchStrategy[bytes]:
    """Random bytes mixed with whole and broken frames of this protocol, to reach the parser's corners."""
    frames = samples.map(lambda s: exchange(name, options, s)[1])
    noise = st.binary(max_size=12)
    if name == "textline":  # bytes that lines are made of, and now and then a line too long
        text, long = bytes(b"T=%,-+.0123456789 \r\n\xff"[b % 21] for b in range(256)), b"T=.0123456789"
        noise = st.binary(max_size=40).map(lambda b: b.translate(text)) | st.binary(min_size=250, max_size=300).map(
            lambda b: b.translate(bytes(long[b % 13] for b in range(256)))
        )
    pieces = st.one_of(noise, frames, frames.map(lambda f: f[: len(f) // 2]))
    return st.lists(pieces, max_size=12).map(b"".join)


@pytest.mark.parametrize(("name", "options"), [c[:2] for c in PARSERS], ids=PARSER_IDS)
@fast
@given(data=st.data())
def test_parse_never_raises_and_does_not_care_how_reads_cut_the_stream(
    name: str, options: Mapping[str, object], data: st.DataObject
) -> None:
    stream = data.draw(stream_of(name, options))
    cuts = data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=40))
    whole, chunked = make_driver(name, options), make_driver(name, options)
    expected, left = feed(whole, stream)
    found, left_chunked = feed(chunked, stream, cuts)
    assert found == expected and chunked.errors == whole.errors and left_chunked == left
    for sample in found:
        values = (sample.object_c, sample.ambient_c, sample.distance)
        assert all(math.isfinite(v) for v in values if v is not None)
    assert len(left) <= (textline.MAX_LINE if name == "textline" else gy906.FRAME_SIZE)


BINARY = [CONFIGS[i] for i in (0, 7, 8)]


@pytest.mark.parametrize(("name", "options"), [c[:2] for c in BINARY], ids=[f"{c[0]}-{c[1]}" for c in BINARY])
@fast
@given(data=st.data())
def test_binary_frames_between_garbage_that_cannot_start_one_are_all_found(
    name: str, options: Mapping[str, object], data: st.DataObject
) -> None:
    """Exactly the frames come out and every garbage byte is counted, when no garbage byte can start a frame."""
    slave = options.get("slave", 1)
    assert isinstance(slave, int)
    banned = bytes((0x5A if name == "gy906" else slave,))  # the first byte of every frame start the driver seeks
    noise = st.binary(max_size=20).map(lambda b: bytes(c for c in b if c not in banned))
    pieces = data.draw(st.lists(st.tuples(noise, samples.map(lambda s: exchange(name, options, s)[1])), max_size=8))
    tail = data.draw(noise)
    stream = b"".join(g + f for g, f in pieces) + tail
    cuts = data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=20))
    driver = make_driver(name, options)
    found, left = feed(driver, stream, cuts)
    assert found == [feed(make_driver(name, options), f)[0][0] for _, f in pieces]
    assert driver.errors == sum(len(g) for g, _ in pieces) + len(tail) and left == b""


@pytest.mark.parametrize("template", [T, CSV])
@fast
@given(data=st.data())
def test_text_lines_between_garbage_lines_are_all_found(template: str, data: st.DataObject) -> None:
    """Each rendered line is found and each garbage line (one starting with "#", any length) counts once."""
    device, driver = textline.Device(template), textline.Driver(template)
    garbage = st.binary(max_size=300).map(lambda b: b"#" + bytes(c for c in b if c not in b"\r\n"))
    ends = st.sampled_from([b"\r", b"\n", b"\r\n"])
    lines = data.draw(st.lists(st.tuples(st.none() | samples, garbage, ends), max_size=10))
    stream = b"".join((device.render(s)[:-2] if s else g) + end for s, g, end in lines)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=20))
    found, left = feed(driver, stream, cuts)
    assert found == [textline.Template(template).match(device.render(s)[:-2]) for s, _, _ in lines if s]
    assert driver.errors == sum(1 for s, _, _ in lines if not s) and left == b""
