"""The thermometer protocols by name, built from options as a TOML [thermometer] table gives them.

Pass only the protocol's own options (OPTIONS lists them): keys such as the port or the baud
rate belong to whoever opens the port. Anything unknown or of the wrong type is a ValueError
that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar, cast

from kiosk.thermometer import gy906, modbus, textline
from kiosk.thermometer.types import Device, Driver

PROTOCOLS = ("gy906", "textline", "modbus")

# option -> the types it may have; a Driver and a Device of one protocol take the same options
OPTIONS: dict[str, dict[str, tuple[type, ...]]] = {
    "gy906": {"continuous": (bool,)},
    "textline": {"template": (str,), "request": (str, bytes)},  # TOML gives a str: "R\n"
    "modbus": {
        "slave": (int,),
        "function": (int,),
        "register": (int,),
        "scale": (int, float),
        "ambient_register": (int,),
        "signed": (bool,),
    },
}
_TYPE_NAMES = {bool: "true or false", str: "a string", bytes: "bytes", int: "an integer", float: "a number"}

T = TypeVar("T")
M = TypeVar("M", modbus.Driver, modbus.Device)


def make_driver(name: str, options: Mapping[str, object]) -> Driver:
    """The kiosk side of protocol `name`."""
    opts = _checked(name, options)
    if name == "gy906":
        return gy906.Driver(continuous=_get(opts, "continuous", False))
    if name == "textline":
        return textline.Driver(_get(opts, "template", ""), request=_request(opts))
    return _modbus(modbus.Driver, opts)


def make_device(name: str, options: Mapping[str, object]) -> Device:
    """The device side of protocol `name`, for the simulator; same options as make_driver."""
    opts = _checked(name, options)
    if name == "gy906":
        return gy906.Device(continuous=_get(opts, "continuous", False))
    if name == "textline":
        return textline.Device(_get(opts, "template", ""), request=_request(opts))
    return _modbus(modbus.Device, opts)


def _checked(name: str, options: Mapping[str, object]) -> Mapping[str, object]:
    if name not in OPTIONS:
        raise ValueError(f"unknown thermometer protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    allowed = OPTIONS[name]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {name} option(s): {', '.join(unknown)}; known: {', '.join(allowed)}")
    for key, value in options.items():
        kinds = allowed[key]
        # bool is an int to isinstance, but `slave = true` is a mistake, not slave 1
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            wanted = " or ".join(_TYPE_NAMES[kind] for kind in kinds)
            raise ValueError(f"{name} option {key} must be {wanted}, got {value!r}")
    if name == "textline" and "template" not in options:
        raise ValueError('textline needs a template option, e.g. template = "T={object}"')
    return options


def _get(opts: Mapping[str, object], key: str, default: T) -> T:
    return cast(T, opts.get(key, default))  # _checked has made sure of the type


def _request(opts: Mapping[str, object]) -> bytes | None:
    request = opts.get("request")
    return request.encode() if isinstance(request, str) else cast("bytes | None", request)


def _modbus(cls: type[M], opts: Mapping[str, object]) -> M:
    return cls(
        slave=_get(opts, "slave", 1),
        function=_get(opts, "function", modbus.READ_INPUT),
        register=_get(opts, "register", 0),
        scale=_get(opts, "scale", 0.1),
        ambient_register=_get(opts, "ambient_register", cast("int | None", None)),
        signed=_get(opts, "signed", True),
    )
