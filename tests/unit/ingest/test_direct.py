"""Direct mode: the same client API over botocore's mediastore-data client (SigV4),
against LocalContainer, which verifies SigV4 and enforces the default policy."""

from __future__ import annotations

import io

import botocore.session
import pytest

from mediastore_ingest.errors import (
    AccessDeniedError,
    ObjectNotFoundError,
    RetriesExhaustedError,
    TransportError,
)
from mediastore_ingest.ingest import IngestClient, IngestConfig, RetryPolicy
from mediastore_ingest.testing import DEFAULT_CREDENTIALS, LocalCA, LocalContainer

ACCESS_KEY = "AKIDEXAMPLE"


def session(secret: str = DEFAULT_CREDENTIALS[ACCESS_KEY]) -> botocore.session.Session:
    s = botocore.session.get_session()
    s.set_credentials(ACCESS_KEY, secret)
    return s


def direct(container: LocalContainer, **kwargs: object) -> IngestClient:
    return IngestClient.direct(
        container.endpoint,
        session=kwargs.pop("session", session()),
        region_name="us-west-2",
        config=IngestConfig(ca_bundle=container.ca_bundle),
        sleep=lambda s: None,
        **kwargs,  # type: ignore[arg-type]
    )


def test_direct_round_trip_with_sigv4(container: LocalContainer) -> None:
    client = direct(container)
    data = bytes(range(256)) * 100
    result = client.put("live/seg.ts", data, cache_control="max-age=5")
    assert container.read("live/seg.ts") == data
    assert result.content_sha256 == container.describe("live/seg.ts").content_sha256
    assert result.etag == container.describe("live/seg.ts").etag
    assert container.requests[-1].header("Authorization", ).startswith("AWS4-HMAC-SHA256")
    client.put("live/gen.m3u8", (p for p in [b"#EXTM3U\n", b"#EXT-X-ENDLIST\n"]))
    client.put("live/obj.mp4", io.BytesIO(b"mp4" * 10))
    assert container.read("live/gen.m3u8") == b"#EXTM3U\n#EXT-X-ENDLIST\n"
    assert container.describe("live/gen.m3u8").content_type == "application/vnd.apple.mpegurl"
    info = client.head("live/seg.ts")
    assert (info.size, info.content_type, info.cache_control) == (len(data), "video/MP2T",
                                                                  "max-age=5")
    assert client.get("live/obj.mp4") == b"mp4" * 10
    with client.get_stream("live/seg.ts") as stream:
        assert b"".join(stream) == data
    assert sorted(i.name for i in client.list("live", page_size=1)) == [
        "gen.m3u8", "obj.mp4", "seg.ts"]
    client.delete("live/obj.mp4")
    with pytest.raises(ObjectNotFoundError) as err:
        client.get("live/obj.mp4")
    assert err.value.code == "ObjectNotFoundException"


def test_direct_bad_credentials_are_access_denied(container: LocalContainer) -> None:
    client = direct(container, session=session("not-the-secret"))
    with pytest.raises(AccessDeniedError):
        client.put("live/a.ts", b"x")
    assert container.paths() == []


def test_unsigned_edge_client_is_refused_where_sigv4_is_allowed(container: LocalContainer) -> None:
    anonymous = IngestClient(container.endpoint, config=IngestConfig(ca_bundle=container.ca_bundle))
    with pytest.raises(AccessDeniedError):
        anonymous.put("live/a.ts", b"x")
    direct(container).put("live/a.ts", b"x")
    assert container.read("live/a.ts") == b"x"


def test_direct_connection_failure_is_transport_error(ca: LocalCA) -> None:
    with LocalContainer(ca=ca) as c:
        endpoint, bundle = c.endpoint, c.ca_bundle
        client = IngestClient.direct(
            endpoint, session=session(), region_name="us-west-2",
            config=IngestConfig(ca_bundle=bundle, retry=RetryPolicy(max_attempts=2)),
            sleep=lambda s: None,
        )
    with pytest.raises(RetriesExhaustedError) as err:
        client.put("live/a.ts", b"x")
    assert isinstance(err.value.last_error, TransportError)
    assert err.value.attempts == 2


def test_direct_accepts_a_ready_client(container: LocalContainer) -> None:
    made = session().create_client(
        "mediastore-data", region_name="us-west-2", endpoint_url=container.endpoint,
        verify=container.ca_bundle,
    )
    client = IngestClient.direct(container.endpoint, client=made)
    client.put("live/a.ts", b"ready")
    assert container.read("live/a.ts") == b"ready"


def test_direct_refuses_cloudfront_signing_options(container: LocalContainer) -> None:
    from mediastore_ingest.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        IngestClient.direct(container.endpoint, session=session(), auth="cookie")
