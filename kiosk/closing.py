"""`with part:` for every part that holds a file, a connection, a port or a thread: written once, here."""

from __future__ import annotations

from typing import Self


class ClosedOnExit:
    """Leaving a `with` block (also by an exception) calls the part's close()."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class StoppedOnExit:
    """Leaving a `with` block (also by an exception) calls the part's stop(): a thread, a device."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
