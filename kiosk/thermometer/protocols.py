"""The thermometer protocols by name, built from options as a TOML [thermometer] table gives them.

Pass only the protocol's own options (OPTIONS lists them): keys such as the port or the baud
rate belong to whoever opens the port. Anything unknown or of the wrong type is a ValueError
that names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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

# name -> (kiosk side, device side); both take the protocol's options as keyword arguments, with defaults.
SIDES: dict[str, tuple[Callable[..., Driver], Callable[..., Device]]] = {
    "gy906": (gy906.Driver, gy906.Device),
    "textline": (textline.Driver, textline.Device),
    "modbus": (modbus.Driver, modbus.Device),
}


def make_driver(name: str, options: Mapping[str, object]) -> Driver:
    """The kiosk side of protocol `name`."""
    arguments = _arguments(name, options)  # checks the name first
    return SIDES[name][0](**arguments)


def make_device(name: str, options: Mapping[str, object]) -> Device:
    """The device side of protocol `name`, for the simulator; same options as make_driver."""
    arguments = _arguments(name, options)
    return SIDES[name][1](**arguments)


def _arguments(name: str, options: Mapping[str, object]) -> dict[str, object]:
    """The checked options as keyword arguments; TOML gives a text line's request as a str."""
    arguments = dict(_checked(name, options))
    if isinstance(arguments.get("request"), str):
        arguments["request"] = str(arguments["request"]).encode()
    return arguments


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
