"""Helpers shared by the subcommands."""

from __future__ import annotations

import contextlib
import os
import signal
import string
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.provisioning import IngestSetup

__all__ = [
    "StopSignal",
    "checked_key_id",
    "env_value",
    "hint_of",
    "read_setup",
    "until_stopped",
]

_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


def env_value(var: str | None, what: str | None = None) -> str | None:
    """The value of environment variable ``var`` (``None`` when no variable is named);
    a named variable that is not set is an `InvalidInputError`. Secrets and
    passwords travel this way so they never appear in argv or shell history."""
    if not var:
        return None
    value = os.environ.get(var)
    if value is None:
        label = f" ({what})" if what else ""
        raise InvalidInputError(f"environment variable {var}{label} is not set")
    return value


def checked_key_id(value: str, flag: str = "--key-id") -> str:
    """``value`` if it can be a CloudFront public key ID; a lower-case one is refused
    (CloudFront's IDs are upper-case letters and digits, so it cannot match)."""
    if value != value.upper():
        raise InvalidInputError(
            f"{flag} {value!r} has lower-case letters, and CloudFront public key IDs are "
            f"upper-case (such as K2JCJMDEHXQW5F): did you mean {value.upper()!r}?"
        )
    return value


def read_setup(path: str, flag: str = "--setup") -> IngestSetup:
    """The setup record ``provision --out`` wrote at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {flag} {path}: {exc}") from exc
    return IngestSetup.from_json(text)  # a typed error for any malformed text


def hint_of(error: BaseException | None) -> str | None:
    """The ``hint`` an error of this package carries, if any."""
    hint = getattr(error, "hint", None)
    return hint if isinstance(hint, str) and hint else None


class StopSignal:
    """Set by SIGINT or SIGTERM (see `until_stopped`); ``name`` is the first received."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.received: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self._event.set()

    @property
    def name(self) -> str:
        """The name of the first signal received (``"signal"`` before any)."""
        return signal.Signals(self.received[0]).name if self.received else "signal"

    def wait(self) -> None:
        """Block until a signal came (waking now and then, so the handler can run)."""
        while not self._event.wait(0.2):
            pass


@contextlib.contextmanager
def until_stopped() -> Iterator[StopSignal]:
    """SIGINT and SIGTERM set the returned `StopSignal` instead of raising
    ``KeyboardInterrupt``, for a command that runs until stopped and then cleans up;
    the previous handlers come back on exit."""
    stop = StopSignal()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
