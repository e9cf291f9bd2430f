"""SigV4 as the local origins check it: credentials, signature verification, aws-chunked.

``verify_sigv4`` recomputes a request's ``Authorization`` signature with
botocore's own signer and says who signed (``Caller``), or why not
(``SigV4Failure``, which each server turns into its own error answer).
``LocalCredential`` is an access key's secret and who it signs as.
``AwsChunkedDecoder`` reads the ``aws-chunked`` bodies botocore sends with
unsigned trailing checksums.
"""

from __future__ import annotations

import datetime
import hmac
import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import check_credentials, optional, text
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.server.base import RequestHandler

__all__ = [
    "DEFAULT_CREDENTIALS",
    "MAX_CLOCK_SKEW",
    "STREAMING_SIGNED_PAYLOADS",
    "STREAMING_UNSIGNED_TRAILER",
    "UNSIGNED_PAYLOAD",
    "AwsChunkedDecoder",
    "Caller",
    "ChunkedBodyError",
    "LocalCredential",
    "SigV4Failure",
    "as_credential",
    "credential_map",
    "is_sha256_hex",
    "verify_sigv4",
]

#: The access key pair a local origin accepts when none is given
#: (the AWS documentation's example pair; never a real credential).
DEFAULT_CREDENTIALS: Mapping[str, str] = {
    "AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
#: How far ``X-Amz-Date`` may be from the server's clock.
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)

#: ``x-amz-content-sha256`` of a request whose body is not hashed.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: ``x-amz-content-sha256`` of an ``aws-chunked`` body with unsigned chunks.
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#: ``x-amz-content-sha256`` of ``aws-chunked`` bodies whose chunks are signed.
STREAMING_SIGNED_PAYLOADS = frozenset(
    {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,"
    r"\s*Signature=([0-9a-fA-F]+)\s*"
)
_HEX64_RE = re.compile(r"[0-9a-fA-F]{64}")
_CHUNK_SIZE_RE = re.compile(rb"[0-9A-Fa-f]{1,16}")


def is_sha256_hex(value: str) -> bool:
    """True if ``value`` is a hex SHA-256 digest (64 hex digits, either case)."""
    return _HEX64_RE.fullmatch(value) is not None


# --- credentials -------------------------------------------------------------------------


def _secret_str(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        # the value is a secret: never show it
        raise InvalidInputError(f"{attribute.name} must be a non-empty str")


_OPTIONAL_STR = optional(text(empty=True))  # "" meant "the default" before


@attrs.frozen
class LocalCredential:
    """An access key's secret and who it signs as.

    ``principal`` defaults to ``arn:aws:iam::<account>:user/<access key id>``;
    ``source_arn``/``source_account`` let a test double of a service (CloudFront with
    Origin Access Control) sign as ``{"Service": ...}`` with ``aws:SourceArn``.
    """

    secret_key: str = attrs.field(repr=False, validator=_secret_str)
    principal: str | None = attrs.field(default=None, validator=_OPTIONAL_STR)
    source_arn: str | None = attrs.field(default=None, validator=_OPTIONAL_STR)
    source_account: str | None = attrs.field(default=None, validator=_OPTIONAL_STR)


def as_credential(
    access_key_id: str, value: object, *, what: str = "credential"
) -> LocalCredential:
    """``value`` (a secret key or a ``LocalCredential``) as a LocalCredential."""
    if isinstance(value, LocalCredential):
        return value
    if not isinstance(value, str) or not value:
        # the value is a secret: never show it
        raise InvalidInputError(
            f"{what} of {access_key_id!r} must be a non-empty secret key str or a "
            f"LocalCredential, not {type_name(value)}"
        )
    return LocalCredential(value)


def credential_map(value: object) -> dict[str, LocalCredential]:
    """``value`` (access key id -> secret key or ``LocalCredential``) checked, as
    a dict of ``LocalCredential``."""
    return {
        key: as_credential(key, secret, what="credentials value")
        for key, secret in check_credentials(value).items()
    }


# --- signature verification --------------------------------------------------------------


@attrs.frozen
class Caller:
    """Who signed a request (``principal=None``: nobody, an anonymous request)."""

    principal: str | None
    source_arn: str | None = None
    source_account: str | None = None


class SigV4Failure(Exception):
    """Why a SigV4 signature was refused; each server maps ``kind`` to its own error.

    Kinds: ``malformed`` (Authorization header or credential scope), ``unknown_key``,
    ``scope`` (wrong region or service), ``bad_date`` (missing/invalid X-Amz-Date),
    ``date_mismatch`` (scope date differs from X-Amz-Date), ``skew`` (outside
    ``MAX_CLOCK_SKEW``), ``headers`` (host unsigned, or signed headers differ),
    ``payload_hash`` (an invalid ``x-amz-content-sha256``), ``mismatch``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def verify_sigv4(
    handler: RequestHandler,
    header: str,
    payload: bytes | None,
    *,
    credentials: Mapping[str, LocalCredential],
    region: str,
    service: str,
    account_id: str,
    now: datetime.datetime,
    signer_class: Any = SigV4Auth,
    payload_tokens: frozenset[str] = frozenset({UNSIGNED_PAYLOAD}),
) -> Caller:
    """Verify the SigV4 ``Authorization`` header of the request ``handler`` serves.

    botocore's own signer recomputes the signature: ``signer_class`` is the one the
    service's clients sign with (``S3SigV4Auth`` for S3: no path normalisation).
    ``payload`` is the body when it was read before verifying; it is only hashed when
    the request carries no ``x-amz-content-sha256``, whose value (a hex digest or one
    of ``payload_tokens``) is otherwise what was signed. Returns who signed; raises
    ``SigV4Failure``.
    """
    match = _AUTH_RE.fullmatch(header.strip())
    if match is None:
        raise SigV4Failure("malformed", "Malformed Authorization header")
    credential, signed_headers, signature = match.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SigV4Failure("malformed", "Malformed credential scope")
    access_key, date, scope_region, scope_service, _ = parts
    identity = credentials.get(access_key)
    if identity is None:
        raise SigV4Failure(
            "unknown_key", "The security token included in the request is invalid"
        )
    if scope_region != region or scope_service != service:
        raise SigV4Failure("scope", "Credential should be scoped to this region")
    amz_date = handler.headers.get("X-Amz-Date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError as exc:
        raise SigV4Failure("bad_date", "Missing or invalid X-Amz-Date") from exc
    if amz_date[:8] != date:
        raise SigV4Failure("date_mismatch", "Credential date does not match X-Amz-Date")
    if abs(now - when) > MAX_CLOCK_SKEW:
        raise SigV4Failure("skew", "Signature expired")
    names = signed_headers.split(";")
    if "host" not in names:
        raise SigV4Failure("headers", "The host header must be signed")

    scheme = "https" if handler.tls else "http"
    request = AWSRequest(
        method=handler.command,
        url=f"{scheme}://{handler.headers.get('Host', '')}{handler.path}",
        data=payload if payload is not None else b"",
    )
    for name in names:
        for value in handler.headers.get_all(name) or []:
            request.headers[name] = value
    request.context["timestamp"] = amz_date
    signer = signer_class(Credentials(access_key, identity.secret_key), service, region)
    headers_to_sign = signer.headers_to_sign(request)
    if signer.signed_headers(headers_to_sign) != signed_headers:
        raise SigV4Failure("headers", "Signed headers do not match")
    claimed = handler.headers.get("X-Amz-Content-SHA256")
    if claimed is not None and claimed not in payload_tokens and not is_sha256_hex(claimed):
        raise SigV4Failure("payload_hash", "Invalid x-amz-content-sha256")
    # Without x-amz-content-sha256 the payload line is the body's hash: the body is
    # in ``payload`` (read before verifying) or there is none (hash of b"").
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, signature.lower()):
        raise SigV4Failure(
            "mismatch",
            "The request signature we calculated does not match the signature you provided",
        )
    principal = identity.principal or f"arn:aws:iam::{account_id}:user/{access_key}"
    return Caller(
        principal=principal,
        source_arn=identity.source_arn,
        source_account=identity.source_account,
    )


# --- aws-chunked bodies ------------------------------------------------------------------


class ChunkedBodyError(Exception):
    """An ``aws-chunked`` body that cannot be read: bad framing, too long, cut short."""


class AwsChunkedDecoder:
    """Incremental decoder of an ``aws-chunked`` body with unsigned chunks.

    ``feed`` yields the payload bytes as framing allows; trailing headers (checksums)
    end up in ``trailers``. ``limit`` is the declared decoded length: going past
    it is an error at once, so a lying client cannot make the server buffer more.
    Every refusal is a ``ChunkedBodyError``.
    """

    _MAX_LINE = 4096
    _MAX_TRAILERS = 16

    def __init__(self, limit: int) -> None:
        self._buffer = bytearray()
        self._state = "size"
        self._remaining = 0
        self._limit = limit
        self.decoded = 0
        self.trailers: dict[str, str] = {}

    @staticmethod
    def _malformed(message: str) -> ChunkedBodyError:
        return ChunkedBodyError(f"Malformed aws-chunked body: {message}")

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > self._MAX_LINE:
                raise self._malformed("framing line too long")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Take the next bytes of the body; yield the payload bytes they complete."""
        self._buffer += data
        while True:
            if self._state == "size":
                line = self._line()
                if line is None:
                    return
                size_field = line.split(b";", 1)[0].strip()
                if not _CHUNK_SIZE_RE.fullmatch(size_field):
                    raise self._malformed("invalid chunk size")
                size = int(size_field, 16)
                if size == 0:
                    self._state = "trailer"
                    continue
                if self.decoded + size > self._limit:
                    raise ChunkedBodyError(
                        "The body is longer than x-amz-decoded-content-length"
                    )
                self._remaining = size
                self._state = "data"
            elif self._state == "data":
                if not self._buffer:
                    return
                take = min(self._remaining, len(self._buffer))
                piece = bytes(self._buffer[:take])
                del self._buffer[:take]
                self._remaining -= take
                self.decoded += take
                if not self._remaining:
                    self._state = "crlf"
                yield piece
            elif self._state == "crlf":
                if len(self._buffer) < 2:
                    return
                if self._buffer[:2] != b"\r\n":
                    raise self._malformed("chunk data not followed by CRLF")
                del self._buffer[:2]
                self._state = "size"
            elif self._state == "trailer":
                line = self._line()
                if line is None:
                    return
                if not line:
                    self._state = "done"
                    continue
                name, sep, value = line.partition(b":")
                if not sep or len(self.trailers) >= self._MAX_TRAILERS:
                    raise self._malformed("invalid trailer")
                try:
                    self.trailers[name.strip().decode("ascii").lower()] = (
                        value.strip().decode("ascii")
                    )
                except UnicodeDecodeError as exc:
                    raise self._malformed("non-ASCII trailer") from exc
            else:  # done
                if self._buffer:
                    raise self._malformed("data after the final chunk")
                return

    def finish(self) -> None:
        """The body has ended: refuse it if its last chunk has not arrived."""
        if self._state != "done":
            raise ChunkedBodyError("The aws-chunked body ended early")
