"""End to end: IngestClient → LocalEdge (verifies signatures, injects the ingest
secret, injects faults) → LocalContainer (accepts writes only with that secret)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mediastore_ingest.errors import AccessDeniedError
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.ingest import IngestClient, IngestConfig, RetryPolicy
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.testing import FaultPlan, LocalCA, LocalContainer, LocalEdge, LocalStack

KEY_ID = "K2JCJMDEHXQW5F"


@pytest.fixture
def edge_and_container(rsa_key: rsa.RSAPrivateKey) -> Iterator[tuple[LocalEdge, LocalContainer]]:
    secret = IngestSecret.generate()
    policy = (
        ContainerPolicyBuilder(region="us-west-2", account_id="111122223333", container="live")
        .allow_account_full_access()
        .allow_cloudfront_ingest(secret)
        .build()
    )
    with LocalCA() as ca, LocalContainer(ca=ca, policy=policy) as container, LocalEdge(
        container,
        key_group={KEY_ID: rsa_key.public_key()},
        origin_headers={"User-Agent": secret.user_agent},
    ) as edge:
        yield edge, container


@pytest.mark.parametrize("auth", ["url", "cookie"])
def test_signed_ingest_through_the_edge(
    edge_and_container: tuple[LocalEdge, LocalContainer], rsa_key: rsa.RSAPrivateKey, auth: Any
) -> None:
    edge, container = edge_and_container
    client = IngestClient(edge.base_url, signer=UrlSigner(KEY_ID, rsa_key), auth=auth)
    client.put("live/ch1/seg1.ts", b"ts" * 1000)
    client.put("live/ch1/index.m3u8", (p for p in [b"#EXTM3U\n", b"seg1.ts\n"]))
    assert container.read("live/ch1/seg1.ts") == b"ts" * 1000
    assert container.read("live/ch1/index.m3u8") == b"#EXTM3U\nseg1.ts\n"
    assert container.describe("live/ch1/index.m3u8").content_type == (
        "application/vnd.apple.mpegurl"
    )


def test_unsigned_is_refused_at_the_edge_and_direct_to_origin(
    edge_and_container: tuple[LocalEdge, LocalContainer],
) -> None:
    edge, container = edge_and_container
    with pytest.raises(AccessDeniedError):
        IngestClient(edge.base_url).put("live/a.ts", b"x")
    direct_to_origin = IngestClient(
        container.endpoint, config=IngestConfig(ca_bundle=container.ca_bundle)
    )
    with pytest.raises(AccessDeniedError):
        direct_to_origin.put("live/a.ts", b"x")
    assert container.paths() == []


def test_put_many_survives_injected_faults() -> None:
    delays: list[float] = []
    plan = FaultPlan(seed=7, failure_rate=0.3, kinds=(
        "drop_request", "http_502", "http_503", "http_504", "reset_response"))
    with LocalStack(faults=plan) as stack:
        client = IngestClient(
            stack.ingest_base_url,
            signer=stack.signer,
            config=IngestConfig(retry=RetryPolicy(max_attempts=10)),
            sleep=delays.append,
        )
        bodies = {
            f"live/ch/seg{i}.ts": hashlib.sha256(str(i).encode()).digest() * (800 + 100 * i)
            for i in range(24)
        }
        items: list[tuple[str, Any]] = list(bodies.items())
        # a streamed (generator) manifest as well
        items.append(("live/ch/index.m3u8", (p for p in [b"#EXTM3U\n"] * 50)))
        outcomes = client.put_many(items, max_concurrency=4)
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        for path, data in bodies.items():
            assert stack.container.read(path) == data
        assert stack.container.read("live/ch/index.m3u8") == b"#EXTM3U\n" * 50
        assert sum(stack.ingest_edge.faults_injected.values()) > 0
        retried = sum(o.unwrap().attempts - 1 for o in outcomes)
        assert retried > 0
        assert retried == len(delays)
