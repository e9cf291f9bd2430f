"""What an answer means: a non-2xx status and its error body become a typed error
(403 [`AccessDeniedError`][mediastore_ingest.errors.AccessDeniedError], 404
[`ObjectNotFoundError`][mediastore_ingest.errors.ObjectNotFoundError], any other
[`HTTPStatusError`][mediastore_ingest.errors.HTTPStatusError]), with the AWS error code
read from a JSON or XML body or the ``x-amzn-ErrorType`` header, and a ``hint``: what
the code usually means and what to check.

The edge's own refusals (CloudFront's XML ``MissingKey``, ``InvalidKey``,
``MalformedPolicy``, ``AccessDenied``, which carry no ``RequestId``) get hints about the
signature, naming the key id that signed; an origin's codes get the hint its `Origin`
description gives (`Origin.hint_for`), or failing that the hint of another registered
origin kind (an S3 bucket's ``XAmzContentSHA256Mismatch`` reached with the MediaStore
rules says to use ``origin="s3"``).
"""

from __future__ import annotations

import json
from typing import Any

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest.errors import AccessDeniedError, HTTPStatusError, ObjectNotFoundError
from mediastore_ingest.ingest.limits import limits_hint
from mediastore_ingest.ingest.transports.base import Response
from mediastore_ingest.origins import Origin, get_origin, origin_names

__all__ = [
    "DOC_SECTIONS",
    "TROUBLESHOOTING_URL",
    "error_code",
    "error_hint",
    "json_object",
    "listing_object",
    "status_error",
]

#: The troubleshooting guide the hints link to.
TROUBLESHOOTING_URL = "https://mediastore-ingest.github.io/mediastore-ingest/guides/troubleshooting/"

#: Error code -> the anchor of its section in the troubleshooting guide.
DOC_SECTIONS = {
    "MissingKey": "missingkey-an-unsigned-request",
    "InvalidKey": "invalidkey-a-key-id-the-edge-does-not-know",
    "AccessDenied": "accessdenied-from-the-edge-wrong-key-expired-or-outside-the-policy",
    "MalformedPolicy": "accessdenied-from-the-edge-wrong-key-expired-or-outside-the-policy",
    "XAmzContentSHA256Mismatch": "xamzcontentsha256mismatch-an-s3-origin-without-its-checksum",
    "AccessDeniedException": "symptom-cause",
}

# CloudFront's own refusals of a signed request (the edge, not the origin).
_EDGE_CODES = frozenset({"MissingKey", "InvalidKey", "MalformedPolicy", "AccessDenied"})

# How much of an error body is read for its code and message.
_ERROR_BODY_LIMIT = 4096


class _NotAnObject(Exception):
    """Internal: an answer that is not a strictly valid JSON document."""


def json_object(content: bytes | str) -> dict[str, Any] | None:
    """The JSON object in an answer, read strictly; ``None`` when there is none (an
    empty body, not JSON, or JSON that is not an object)."""
    if not content:
        return None
    try:
        doc = strict_loads(content, error=_NotAnObject, what="the answer")
    except _NotAnObject:
        return None
    return doc if isinstance(doc, dict) else None


def listing_object(content: bytes) -> dict[str, Any] | None:
    """The JSON object of a ``ListItems`` answer; ``None`` when there is none.

    Read as Python's own reader does, not strictly: a listing is information only,
    and one entry with an absurd value (``NaN`` for a date) must not hide the others.
    Nesting deep enough to exhaust the recursion limit is ``None`` too.
    """
    if not content:
        return None
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def error_code(response: Response, body: bytes) -> tuple[str | None, str]:
    """The AWS error code (``None`` if none) and message (at most 200 characters)
    of an error answer."""
    code = response.headers.get("x-amzn-ErrorType")
    message = ""
    text = body[:_ERROR_BODY_LIMIT].decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        doc = json_object(text)
        if doc is not None:
            raw = doc.get("__type") or doc.get("code") or doc.get("Code")
            if isinstance(raw, str):
                code = raw
            msg = doc.get("Message") or doc.get("message")
            if isinstance(msg, str):
                message = msg
    elif "<Code>" in text:
        code = text.split("<Code>", 1)[1].split("</Code>", 1)[0]
        if "<Message>" in text:
            message = text.split("<Message>", 1)[1].split("</Message>", 1)[0]
    else:
        message = text.strip().splitlines()[0] if text.strip() else ""
    if code is not None:
        code = code.split(":", 1)[0].rpartition("#")[2] or None
    return code, message[:200]


def _link(code: str) -> str:
    section = DOC_SECTIONS.get(code)
    return f" (see {TROUBLESHOOTING_URL}#{section})" if section else ""


def _edge_hint(code: str, key_id: str | None) -> str | None:
    """What a refusal by the edge itself means."""
    if code == "MissingKey":
        return (
            "the request reached the edge unsigned: give the client a signer "
            "(IngestClient(signer=UrlSigner(key_id, private_key)); on the command line "
            "--key-id and --private-key, or --setup)"
        )
    if code == "InvalidKey":
        return (
            f"the edge does not know key id {key_id!r}: it must be the ID CloudFront gave "
            "the public key (the Key-Pair-Id, such as K2JCJMDEHXQW5F, upper-case), and that "
            "public key must be in the distribution's trusted key group"
        )
    signed = f"key id {key_id!r}" if key_id else "the signer"
    return (
        f"the edge refused the signature of {signed}: check that the private key is the "
        "one whose public key has that id in the key group (a wrong private key fails "
        "exactly like this), that the encoder's clock is right (an expired URL fails the "
        "same way), and that a custom policy's Resource covers the URL"
    )


def error_hint(
    status: int,
    code: str | None,
    body: bytes,
    *,
    origin: Origin | str | None = None,
    key_id: str | None = None,
) -> str | None:
    """What an error answer usually means and what to check, or ``None``.

    ``origin`` is the origin kind the client applies (its hints come first); ``key_id``
    the key that signed the request (named in an edge refusal)."""
    described = get_origin(origin) if origin is not None else None
    if code in _EDGE_CODES and b"<RequestId>" not in body[:_ERROR_BODY_LIMIT]:
        hint = _edge_hint(code, key_id)
        return None if hint is None else hint + _link(code)
    if status == 413 and described is not None:
        return f"the origin refused the object as too large: {limits_hint(described)}"
    if code is None:
        return None
    hint = described.hint_for(code) if described is not None else None
    if hint is None:
        for name in origin_names():  # an origin kind other than the one configured
            hint = get_origin(name).hint_for(code)
            if hint is not None:
                break
    return None if hint is None else hint + _link(code)


def status_error(
    method: str,
    path: str | None,
    response: Response,
    body: bytes,
    *,
    origin: Origin | str | None = None,
    key_id: str | None = None,
) -> HTTPStatusError:
    """The typed error for a non-2xx ``response`` to ``method`` on ``path``, with the
    hint of `error_hint`."""
    code, message = error_code(response, body)
    status = response.status
    what = f"{method} {path or '/'}: HTTP {status}"
    if code:
        what += f" {code}"
    if message:
        what += f": {message}"
    cls: type[HTTPStatusError] = HTTPStatusError
    if status == 403:
        cls = AccessDeniedError
    elif status == 404:
        cls = ObjectNotFoundError
    hint = error_hint(status, code, body, origin=origin, key_id=key_id)
    return cls(what, path=path, status=status, code=code, hint=hint)
