"""MediaStore container policies that let only the ingest distribution write.

Layer 5: pure, no I/O. Randomness is a parameter (``IngestSecret.generate(rng=...)``).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

import attrs

from .errors import InvalidInputError

__all__ = [
    "USER_AGENT_PREFIX",
    "IngestSecret",
]

#: What the ingest distribution puts in front of the secret in its ``User-Agent``
#: origin custom header (and what the container policy's ``aws:UserAgent`` expects).
USER_AGENT_PREFIX = "MediaStore-Secret-"

_ALPHABET = string.ascii_letters + string.digits
_MIN_LENGTH = 20
_DEFAULT_LENGTH = 40


def _check_secret(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"an ingest secret must be a str, not {type(value).__name__}")
    if len(value) < _MIN_LENGTH:
        raise InvalidInputError(
            f"an ingest secret must be at least {_MIN_LENGTH} characters long "
            f"(got {len(value)})"
        )
    if not (value.isascii() and value.isalnum()):
        raise InvalidInputError(
            "an ingest secret may contain only ASCII letters and digits "
            "(it travels in a User-Agent header and a policy condition)"
        )


@attrs.frozen
class IngestSecret:
    """The shared secret the distribution sends to the origin as ``User-Agent``.

    The value is never shown by ``repr``/``str``; read :attr:`value` or
    :attr:`user_agent` deliberately when you need it.
    """

    value: str = attrs.field(validator=_check_secret, repr=False)

    @classmethod
    def generate(
        cls,
        length: int = _DEFAULT_LENGTH,
        *,
        rng: Callable[[str], str] | None = None,
    ) -> IngestSecret:
        """Make a new random secret of ``length`` letters and digits.

        ``rng`` picks one character from a string (default :func:`secrets.choice`);
        pass a seeded chooser only in tests.
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < _MIN_LENGTH:
            raise InvalidInputError(f"length must be an int >= {_MIN_LENGTH}, got {length!r}")
        choose = secrets.choice if rng is None else rng
        return cls("".join(choose(_ALPHABET) for _ in range(length)))

    @property
    def user_agent(self) -> str:
        """The exact ``User-Agent`` value: ``MediaStore-Secret-<value>``."""
        return USER_AGENT_PREFIX + self.value

    def __str__(self) -> str:
        return "IngestSecret(<hidden>)"
