"""CloudFront's URL-safe base64: standard base64 with ``+=/`` spelled ``-_~``."""

from __future__ import annotations

import base64
import binascii
import sys

__all__ = ["cf_b64decode", "cf_b64encode"]

_ENCODE = bytes.maketrans(b"+=/", b"-_~")
# CloudFront's alphabet back to standard base64; the characters CloudFront replaces
# are mapped to "!", which strict decoding then refuses.
_DECODE = bytes.maketrans(b"-_~+=/", b"+=/!!!")


def cf_b64encode(data: bytes) -> str:
    """Standard base64, then ``+``→``-``, ``=``→``_``, ``/``→``~`` (no newlines)."""
    return base64.b64encode(data).translate(_ENCODE).decode("ascii")


# The characters that may end a final quantum padded with one "_" ([False]) or two
# ("__", [True]): their unused low bits (2 or 4) are zero.
_ZERO_PAD_BITS = {False: frozenset(b"AEIMQUYcgkosw048"), True: frozenset(b"AQgw")}
# Strict decoding: anything outside the standard alphabet, or bad padding, raises.
# binascii has it from 3.11 (a function, not functools.partial: a partial with a
# keyword argument costs about 0.1 us a call); before, base64.b64decode validates first.
if sys.version_info >= (3, 11):

    def _strict_b64decode(data: bytes) -> bytes:
        return binascii.a2b_base64(data, strict_mode=True)

else:  # pragma: no cover (3.10)

    def _strict_b64decode(data: bytes) -> bytes:
        return base64.b64decode(data, validate=True)


def cf_b64decode(text: str) -> bytes:
    """Inverse of ``cf_b64encode``; raises ``ValueError`` on bad input.

    Only CloudFront's alphabet is accepted: characters of standard base64 that
    CloudFront replaces (``+``, ``/``, ``=``) are refused, as is whitespace, and so is
    a final quantum whose unused low bits are not zero (RFC 4648 section 3.5), so
    that bytes have one spelling and a signature cannot be re-spelled to pass.
    """
    # One try, no helper function: this runs once per signature verified.
    try:
        raw = text.encode("ascii")
        data = _strict_b64decode(raw.translate(_DECODE))
    except UnicodeEncodeError as exc:
        raise ValueError("not CloudFront base64: non-ASCII character") from exc
    except binascii.Error as exc:
        raise ValueError(f"not CloudFront base64: {exc}") from exc
    # binascii lets through padding after a complete quantum ("AAAA_") and, before
    # 3.11, a short final quantum ("AAA__"); only the canonical form is taken.
    pads = 2 if raw[-2:] == b"__" else 1 if raw[-1:] == b"_" else 0
    if len(raw) % 4 or pads != -len(data) % 3:
        raise ValueError("not CloudFront base64: padding is not canonical")
    if pads and raw[-pads - 1] not in _ZERO_PAD_BITS[pads == 2]:
        raise ValueError("not CloudFront base64: non-zero pad bits")
    return data
