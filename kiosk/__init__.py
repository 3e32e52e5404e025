"""Offline checkpoint scanner kiosk: verify PHC1 health codes against cached keys."""

__version__ = "0.1.0"
