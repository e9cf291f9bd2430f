"""The ingest secret a distribution sends its origin as ``User-Agent``.

The ingest (or playback) distribution adds the origin custom header
``User-Agent: MediaStore-Secret-<secret>``, and the origin's policy allows a request
only with ``aws:UserAgent`` equal to it. A secret never shows in a ``repr``, a ``str``
or an error message: ``masked`` and ``shown_hiding_secret`` are how the policy
modules mention one. Randomness is a parameter (``IngestSecret.generate(rng=...)``).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

import attrs

from mediastore_ingest._internal.show import SHOWN_LIMIT, shown, type_name
from mediastore_ingest._internal.validate import check, int_in, is_callable, optional
from mediastore_ingest.errors import InvalidInputError

__all__ = ["USER_AGENT_PREFIX", "IngestSecret"]

#: What the ingest distribution puts in front of the secret in its ``User-Agent``
#: origin custom header (and what the container policy's ``aws:UserAgent`` expects).
USER_AGENT_PREFIX = "MediaStore-Secret-"
#: The shortest secret accepted (and the shortest the policy lint does not flag).
MIN_SECRET_LENGTH = 20

_ALPHABET = string.ascii_letters + string.digits
_DEFAULT_LENGTH = 40


def holds_secret(text: str) -> bool:
    """True if ``text`` may hold an ingest secret: it contains
    ``USER_AGENT_PREFIX``, in any case."""
    return USER_AGENT_PREFIX.lower() in text.lower()


def shown_hiding_secret(value: object, limit: int = SHOWN_LIMIT) -> str:
    """``value`` as a policy error message may show it: the toolkit's ``shown``,
    describing (never showing) a str that ``holds_secret``."""
    return shown(value, limit=limit, hide=holds_secret)


def masked(user_agent: str) -> str:
    """Enough of a User-Agent secret to recognise it, never the whole of it."""
    prefix = USER_AGENT_PREFIX if user_agent.startswith(USER_AGENT_PREFIX) else ""
    secret = user_agent[len(prefix):]
    start = secret[:3] if len(secret) >= 12 else ""
    return f"{prefix}{start}…"


def _check_secret(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"an ingest secret must be a str, not {type_name(value)}")
    if len(value) < MIN_SECRET_LENGTH:
        raise InvalidInputError(
            f"an ingest secret must be at least {MIN_SECRET_LENGTH} characters long "
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

    The value is never shown by ``repr``/``str``; read ``value`` or
    ``user_agent`` deliberately when you need it.
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

        ``rng`` picks one character from a string (default ``secrets.choice``);
        pass a seeded chooser only in tests.
        """
        check("length", length, int_in(MIN_SECRET_LENGTH))
        check("rng", rng, optional(is_callable()))
        choose = secrets.choice if rng is None else rng
        chars: list[str] = []
        for _ in range(length):
            char: object = choose(_ALPHABET)
            if not isinstance(char, str):
                raise InvalidInputError(f"rng must return a str, got {type_name(char)}")
            chars.append(char)
        return cls("".join(chars))

    @property
    def user_agent(self) -> str:
        """The exact ``User-Agent`` value: ``MediaStore-Secret-<value>``."""
        return USER_AGENT_PREFIX + self.value

    def __str__(self) -> str:
        return "IngestSecret(<hidden>)"
