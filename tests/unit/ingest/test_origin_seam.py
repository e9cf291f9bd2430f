"""The client asks the origin description, so a third origin kind is one
registration: a small in-test description, exercised through the mock transport."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from mediastore_ingest import IngestClient, IngestConfig, MockTransport, Request, Response
from mediastore_ingest.errors import InvalidInputError, InvalidPathError
from mediastore_ingest.origins import Origin, register_origin, unregister_origin

_LOWER = re.compile(r"[a-z0-9/._-]+\Z")


def _lower_case_path(path: object) -> str:
    if not isinstance(path, str) or not _LOWER.match(path) or path.startswith("/"):
        raise InvalidPathError(f"toy paths are lower case, not {path!r}", path=str(path))
    return path


def _any_type(content_type: object, *, path: str | None = None) -> str:
    assert isinstance(content_type, str)
    return content_type


TOY = Origin(
    name="toy",
    label="a toy origin",
    validate_path=_lower_case_path,
    validate_content_type=_any_type,
    max_object_bytes=1024,
    max_streaming_bytes=None,  # takes no chunked upload
    upload_deadline=None,
    requires_content_sha256=False,
    put_options=frozenset(),
    sigv4_service="toy",
)


@pytest.fixture
def toy() -> Iterator[Origin]:
    register_origin(TOY)
    try:
        yield TOY
    finally:
        unregister_origin(TOY.name)


def _client(origin: str | Origin) -> tuple[IngestClient, list[Request]]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, {}, b"{}")

    config = IngestConfig(origin=origin)
    return IngestClient("https://d1.example.net", config=config,
                        transport=MockTransport(handler)), seen


def test_a_registered_origin_sets_the_rules_of_a_put(toy: Origin) -> None:
    client, seen = _client("toy")
    assert client.config.origin == "toy"
    client.put("live/a.ts", (piece for piece in (b"ab", b"cd")))
    (request,) = seen
    # no chunked upload for an origin that takes none: read once, sent with a length
    assert request.headers.get("Content-Length") == "4"
    assert request.headers.get("Transfer-Encoding") is None
    assert request.headers.get("x-amz-content-sha256") is None
    with pytest.raises(InvalidPathError):
        client.put("Live/A.ts", b"x")
    with pytest.raises(InvalidInputError, match="MediaStore") as refused:
        client.put("live/b.ts", b"x", storage_class="TEMPORAL")
    assert "a toy origin" in str(refused.value)
    assert "streaming" in str(refused.value)
    assert len(seen) == 1


def test_reads_and_urls_use_the_origin_path_rule(toy: Origin) -> None:
    client, seen = _client(toy)
    assert client.config.origin == "toy"  # a registered description is kept as its name
    for call in (client.head, client.get, client.delete, client.url_for):
        with pytest.raises(InvalidPathError):
            call("UPPER/case.ts")
    assert seen == []
    assert client.url_for("live/a.ts") == "https://d1.example.net/live/a.ts"


def test_an_unregistered_description_is_kept_and_used() -> None:
    client, seen = _client(TOY)
    assert client.config.origin is TOY
    client.put("live/a.ts", b"x")
    with pytest.raises(InvalidPathError):
        client.put("LIVE.ts", b"x")
    assert len(seen) == 1


def test_direct_mode_refuses_an_origin_it_has_no_data_plane_client_for(toy: Origin) -> None:
    with pytest.raises(InvalidInputError, match="direct mode cannot reach a toy origin"):
        IngestClient.direct("https://127.0.0.1:9", region_name="us-west-2",
                            config=IngestConfig(origin="toy"))


def test_an_unknown_origin_name_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="origin must be 'mediastore' or 's3'"):
        IngestConfig(origin="toy")
