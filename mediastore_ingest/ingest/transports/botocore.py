"""Direct mode: the client's requests carried by a botocore data-plane client (SigV4
with the caller's credentials), for encoders inside the origin's region.

`BotocoreTransport` maps each request (PUT / GET / HEAD / DELETE of a path,
``GET /?Path=`` listing) to the matching ``mediastore-data`` operation and turns the
answer back into a response, so validation, retries, progress and error translation
are those of the edge client. A ``ClientError`` becomes the error response it was;
connection failures become [`TransportError`][mediastore_ingest.errors.TransportError].
"""

from __future__ import annotations

import datetime
import email.utils
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mediastore_ingest._internal.validate import check, instance_of, optional
from mediastore_ingest.errors import InvalidInputError, TransportError
from mediastore_ingest.ingest.transports.base import (
    BodyReadError,
    Request,
    Response,
    load_ca_bundle,
    raise_original,
)
from mediastore_ingest.origins import MEDIASTORE, Origin, get_origin

__all__ = ["BotocoreTransport"]

# The botocore client that speaks each SigV4 service's data plane the way this
# transport maps requests (path-addressed objects, ListItems).
_DATA_PLANE_CLIENTS = {"mediastore": "mediastore-data"}


def reaches_directly(origin: str | Origin) -> bool:
    """True if `BotocoreTransport` can speak ``origin``'s data plane directly
    (with SigV4, bypassing the distribution)."""
    return get_origin(origin).sigv4_service in _DATA_PLANE_CLIENTS

_READ = 256 * 1024


class _PieceReader:
    """A file-like view of an attempt's body pieces for botocore."""

    def __init__(self, pieces: Iterable[bytes], size: int | None) -> None:
        self._pieces: Iterator[bytes] = iter(pieces)
        self._pending = b""
        self._size = size
        self.error: BaseException | None = None

    def __bool__(self) -> bool:
        return True

    def read(self, amt: int | None = -1) -> bytes:
        out = [self._pending]
        have = len(self._pending)
        self._pending = b""
        while amt is None or amt < 0 or have < amt:
            try:
                piece = next(self._pieces)
            except StopIteration:
                break
            except BodyReadError as exc:
                self.error = exc.original
                raise
            out.append(bytes(piece))
            have += len(piece)
        data = b"".join(out)
        if amt is not None and amt >= 0 and len(data) > amt:
            data, self._pending = data[:amt], data[amt:]
        return data


class _SizedPieceReader(_PieceReader):
    """A reader whose length is known (botocore sends ``Content-Length``)."""

    def __len__(self) -> int:
        assert self._size is not None
        return self._size


class BotocoreTransport:
    """Sends ingest requests through a botocore ``mediastore-data`` client (give a
    ready one, or let `create()` make it)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def create(
        cls,
        endpoint: str,
        *,
        session: Any = None,
        client: Any = None,
        region_name: str | None = None,
        origin: str | Origin = MEDIASTORE,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_pool_connections: int = 10,
        verify: bool = True,
        ca_bundle: str | None = None,
        proxy_url: str | None = None,
        user_agent: str | None = None,
    ) -> BotocoreTransport:
        """Use ``client``, or make one from ``session`` (default: a new botocore
        session, honouring the usual credential chain) for ``endpoint``: the data-plane
        client of ``origin``'s SigV4 service, with botocore's own retries off (the
        ingest client retries) and the given connection settings."""
        if client is not None:
            if session is not None:
                raise InvalidInputError("give session= or client=, not both")
            return cls(client)
        described = get_origin(origin)
        service = _DATA_PLANE_CLIENTS.get(described.sigv4_service)
        if service is None:
            raise InvalidInputError(
                f"direct mode cannot reach {described.label}: it speaks the data plane of "
                f"{' or '.join(sorted(_DATA_PLANE_CLIENTS))} only, not "
                f"{described.sigv4_service!r}"
            )
        if not isinstance(endpoint, str):
            raise InvalidInputError(
                f"the container endpoint must be a str, not {type(endpoint).__name__}"
            )
        check("region_name", region_name, optional(instance_of(str)))
        if ca_bundle:
            load_ca_bundle(ca_bundle)  # a clear error now, not at the first request
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
        from botocore.session import get_session

        sess = session if session is not None else get_session()
        bconfig = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max_pool_connections,
            retries={"total_max_attempts": 1, "mode": "standard"},
            user_agent_extra=user_agent,
            proxies={"https": proxy_url, "http": proxy_url} if proxy_url else None,
        )
        try:
            region = region_name or sess.get_config_variable("region") or "us-east-1"
            made = sess.create_client(
                service,
                region_name=region,
                endpoint_url=endpoint,
                verify=ca_bundle if ca_bundle else verify,
                config=bconfig,
            )
        except (BotoCoreError, ValueError) as exc:  # InvalidRegionError, Invalid endpoint
            raise InvalidInputError(
                f"cannot make a {service} client for {endpoint!r}: {exc}"
            ) from exc
        return cls(made)

    @property
    def client(self) -> Any:
        """The botocore client in use."""
        return self._client

    def __repr__(self) -> str:
        return f"BotocoreTransport({self._client.meta.endpoint_url!r})"

    def close(self) -> None:
        """Close the botocore client's connections."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def handle(self, request: Request) -> Response:
        """Run the ``mediastore-data`` operation that ``request`` stands for."""
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        split = urlsplit(request.url)
        path = unquote(split.path.lstrip("/"))
        reader: _PieceReader | None = None
        try:
            if request.method == "PUT":
                length = request.headers.get("Content-Length")
                pieces: Iterable[bytes] = (
                    request.body
                    if request.body is not None and not isinstance(request.body, bytes)
                    else [request.body or b""]
                )
                reader = (
                    _SizedPieceReader(pieces, int(length))
                    if length is not None
                    else _PieceReader(pieces, None)
                )
                return self._put(path, request, reader)
            if request.method == "GET" and not path:
                return self._list(split.query)
            if request.method == "GET":
                return self._get(path, request.stream)
            if request.method == "HEAD":
                return self._head(path)
            if request.method == "DELETE":
                self._client.delete_object(Path=path)
                return Response(200, {"Content-Type": "application/json"}, b"{}")
        except BodyReadError as exc:
            raise_original(exc)
        except ClientError as exc:
            return _client_error_response(exc)
        except ParamValidationError as exc:
            raise InvalidInputError(f"{request.method} {path}: {exc}") from exc
        except BotoCoreError as exc:
            if reader is not None and reader.error is not None:
                raise reader.error from reader.error.__cause__
            raise TransportError(
                f"{request.method} {path}: {type(exc).__name__}: {exc}", path=request.path
            ) from exc
        except OSError as exc:
            raise TransportError(
                f"{request.method} {path}: {type(exc).__name__}: {exc}", path=request.path
            ) from exc
        raise InvalidInputError(f"direct mode cannot send {request.method}")

    def _put(self, path: str, request: Request, reader: _PieceReader) -> Response:
        h = request.headers
        kwargs: dict[str, Any] = {"Path": path, "Body": reader}
        for header, param in (
            ("Content-Type", "ContentType"),
            ("Cache-Control", "CacheControl"),
            ("x-amz-storage-class", "StorageClass"),
            ("x-amz-upload-availability", "UploadAvailability"),
        ):
            value = h.get(header)
            if value is not None:
                kwargs[param] = value
        out = self._client.put_object(**kwargs)
        doc = {k: out[k] for k in ("ContentSHA256", "ETag", "StorageClass") if k in out}
        return Response(200, _meta_headers(out), json.dumps(doc).encode())

    def _head(self, path: str) -> Response:
        out = self._client.describe_object(Path=path)
        headers = _meta_headers(out)
        headers.update(_object_headers(out))
        return Response(200, headers, b"")

    def _get(self, path: str, stream: bool) -> Response:
        out = self._client.get_object(Path=path)
        headers = _meta_headers(out)
        headers.update(_object_headers(out))
        body = out["Body"]
        if not stream:
            try:
                return Response(out.get("StatusCode", 200), headers, body.read())
            finally:
                body.close()
        return Response(
            out.get("StatusCode", 200), headers, body.iter_chunks(_READ), on_close=body.close
        )

    def _list(self, query: str) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        kwargs: dict[str, Any] = {}
        folder = params.get("Path", [""])[0]
        if folder:
            kwargs["Path"] = folder
        if "MaxResults" in params:
            kwargs["MaxResults"] = int(params["MaxResults"][0])
        if "NextToken" in params:
            kwargs["NextToken"] = params["NextToken"][0]
        out = self._client.list_items(**kwargs)
        items = []
        for item in out.get("Items", []):
            entry = dict(item)
            modified = entry.get("LastModified")
            if isinstance(modified, datetime.datetime):
                entry["LastModified"] = modified.timestamp()
            items.append(entry)
        doc: dict[str, Any] = {"Items": items}
        if out.get("NextToken"):
            doc["NextToken"] = out["NextToken"]
        return Response(200, {"Content-Type": "application/json"}, json.dumps(doc).encode())


def _meta_headers(out: Mapping[str, Any]) -> dict[str, str]:
    meta = out.get("ResponseMetadata", {})
    headers = meta.get("HTTPHeaders", {}) if isinstance(meta, Mapping) else {}
    return {str(k): str(v) for k, v in headers.items()}


def _object_headers(out: Mapping[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for param, header in (
        ("ContentType", "Content-Type"),
        ("ContentLength", "Content-Length"),
        ("ETag", "ETag"),
        ("CacheControl", "Cache-Control"),
    ):
        if out.get(param) is not None:
            headers[header] = str(out[param])
    modified = out.get("LastModified")
    if modified is not None and hasattr(modified, "timestamp"):
        headers["Last-Modified"] = email.utils.format_datetime(
            modified.astimezone(datetime.timezone.utc), usegmt=True
        )
    return headers


def _client_error_response(exc: Any) -> Response:
    response = exc.response if isinstance(getattr(exc, "response", None), Mapping) else {}
    meta = response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode", 500) or 500)
    headers = {str(k): str(v) for k, v in meta.get("HTTPHeaders", {}).items()}
    error = response.get("Error", {})
    doc = {"__type": error.get("Code", "Unknown"), "Message": error.get("Message", "")}
    return Response(status, headers, json.dumps(doc).encode())
