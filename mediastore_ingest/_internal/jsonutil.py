"""JSON the way CloudFront and IAM read it: compact to write, strict to read."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "compact_json", "strict_loads"]

#: How deeply a JSON document read with ``strict_loads`` may nest. Policies and
#: AWS error bodies nest a handful of levels; a hostile answer may nest thousands.
MAX_DEPTH = 64


def compact_json(value: Any) -> str:
    """JSON with no insignificant whitespace and non-ASCII kept as UTF-8 text.

    ``ensure_ascii=False`` matters: CloudFront compares policy bytes, and peers that
    emit ``\\u00e9`` or ``\\u0026`` sign bytes CloudFront never rebuilds.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _depth_exceeds(text: str, limit: int) -> bool:
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def strict_loads(
    text: str | bytes,
    *,
    error: type[Exception],
    what: str = "JSON",
    max_depth: int = MAX_DEPTH,
) -> object:
    """Decode ``text``, refusing what a lenient decoder lets through.

    A duplicate key, ``NaN``/``Infinity``, nesting deeper than ``max_depth``, bytes
    that are not UTF-8 and an integer beyond Python's digit limit are each refused
    as ``error(message)``, with ``what`` naming the document in the message; a
    decoding error is chained (``raise … from``), never raised raw.
    """

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in items:
            if key in out:
                raise error(f"duplicate key {key!r} in {what}")
            out[key] = value
        return out

    def constant(name: str) -> object:
        raise error(f"{name} is not valid in {what}")

    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{what} is not UTF-8 text") from exc
    if _depth_exceeds(text, max_depth):
        raise error(f"{what} is nested too deeply (more than {max_depth} levels)")
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except error:
        raise
    except json.JSONDecodeError as exc:
        raise error(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise error(f"{what} is nested too deeply") from exc
    except ValueError as exc:  # an integer beyond Python's digit limit
        raise error(f"{what} holds a value Python cannot read: {exc}") from exc
