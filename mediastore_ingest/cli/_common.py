"""Helpers shared by the subcommands."""

from __future__ import annotations

import os
import secrets
import string

from mediastore_ingest.errors import InvalidInputError

__all__ = ["env_value", "new_key_id"]

_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


def env_value(var: str | None, what: str | None = None) -> str | None:
    """The value of environment variable ``var`` (``None`` when no variable is named);
    a named variable that is not set is an :class:`InvalidInputError`. Secrets and
    passwords travel this way so they never appear in argv or shell history."""
    if not var:
        return None
    value = os.environ.get(var)
    if value is None:
        label = f" ({what})" if what else ""
        raise InvalidInputError(f"environment variable {var}{label} is not set")
    return value


def new_key_id() -> str:
    """A fresh id in the form CloudFront gives public keys (``K2JCJMDEHXQW5F``: 14
    upper-case letters and digits), for keys made on this machine (the demo)."""
    return "K" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(13))
