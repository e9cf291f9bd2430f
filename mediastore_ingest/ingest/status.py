"""What an origin's answer means: a non-2xx status and its error body become a typed
error (403 :class:`~mediastore_ingest.errors.AccessDeniedError`, 404
:class:`~mediastore_ingest.errors.ObjectNotFoundError`, any other
:class:`~mediastore_ingest.errors.HTTPStatusError`), with the AWS error code read
from a JSON or XML body or the ``x-amzn-ErrorType`` header."""

from __future__ import annotations

import json
from typing import Any

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest.errors import AccessDeniedError, HTTPStatusError, ObjectNotFoundError
from mediastore_ingest.ingest.transports.base import Response

__all__ = ["error_code", "json_object", "listing_object", "status_error"]

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


def status_error(
    method: str, path: str | None, response: Response, body: bytes
) -> HTTPStatusError:
    """The typed error for a non-2xx ``response`` to ``method`` on ``path``."""
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
    return cls(what, path=path, status=status, code=code)
