"""LocalStack (the DESIGN.md contract) and the pytest plugin's fixtures."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import socket
from pathlib import Path

import pytest
import urllib3
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mediastore_ingest.errors import (
    AccessDeniedError,
    HTTPStatusError,
    InvalidInputError,
    LocalStackError,
)
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.ingest import IngestConfig, RetryPolicy
from mediastore_ingest.origins.s3 import BucketPolicy
from mediastore_ingest.testing import (
    DEFAULT_S3_INGEST_ACTIONS,
    FaultPlan,
    LocalBucket,
    LocalStack,
)

NOW = 1_700_000_000


def test_the_contract() -> None:
    with LocalStack() as stack:
        assert stack.running
        assert stack.ingest_base_url.startswith("http://127.0.0.1:")
        assert stack.playback_base_url.startswith("http://127.0.0.1:")
        assert stack.container_endpoint.startswith("https://127.0.0.1:")
        assert stack.ingest_base_url != stack.playback_base_url
        assert stack.signer.key_id == stack.key_id
        assert stack.signer.algorithm == "ECDSA-P256"
        assert stack.signer.hash_algorithm == "SHA256"
        assert isinstance(stack.public_key, ec.EllipticCurvePublicKey)
        assert len(stack.key_id) == 14
        assert stack.key_id.isupper()
        assert stack.key_group == {stack.key_id: stack.public_key}
        assert stack.secret != stack.playback_secret
        assert stack.ingest_edge.origin_headers == {"User-Agent": stack.secret.user_agent}
        assert stack.playback_edge.origin_headers == {
            "User-Agent": stack.playback_secret.user_agent
        }
        assert stack.playback_edge.allowed_methods == ("GET", "HEAD")
        with open(stack.ca_bundle, "rb") as fh:
            assert fh.read().startswith(b"-----BEGIN CERTIFICATE-----")
        policy = stack.container_policy
        assert isinstance(policy, ContainerPolicy)
        assert [s.sid for s in policy.statements] == [
            "MediaStoreFullAccess", "CloudFrontIngest", "CloudFrontPlayback"
        ]
        assert policy.findings(known_secrets=[stack.secret, stack.playback_secret]) == ()
        document = json.dumps(policy.to_dict())
        assert stack.secret.user_agent in document
        assert stack.playback_secret.user_agent in document
        assert stack.container.policy == policy
        assert stack.faults == FaultPlan.none()
        assert "LocalStack(ingest=" in repr(stack)
        assert stack.secret.value not in repr(stack)
        ports = [stack.ingest_edge.port, stack.playback_edge.port, stack.container.port]
    assert not stack.running
    assert repr(stack) == "LocalStack(stopped)"
    for port in ports:
        with socket.socket() as s, pytest.raises(OSError):
            s.connect(("127.0.0.1", port))


def test_not_running_is_an_error() -> None:
    stack = LocalStack()
    with pytest.raises(LocalStackError, match="not running"):
        stack.signer  # noqa: B018
    with stack, pytest.raises(LocalStackError, match="already running"):
        stack.start()


def test_arguments_are_checked() -> None:
    with pytest.raises(InvalidInputError):
        LocalStack(key_algorithm="dsa")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        LocalStack(faults=0.1)  # type: ignore[arg-type]
    from mediastore_ingest.iam.secret import IngestSecret

    same = IngestSecret("a" * 30)
    with pytest.raises(InvalidInputError):
        LocalStack(secret=same, playback_secret=same)


def test_rsa_sha1_stack() -> None:
    with LocalStack(key_algorithm="rsa", hash_algorithm="SHA1") as stack:
        assert isinstance(stack.public_key, rsa.RSAPublicKey)
        assert stack.signer.algorithm == "RSA-2048"
        url = stack.sign_ingest_url("live/a.ts")
        assert "Hash-Algorithm" not in url
        with stack.ingest_client() as client:
            client.put("live/a.ts", b"rsa")
        assert stack.container.read("live/a.ts") == b"rsa"


def test_clients_round_trip_and_the_origin_only_trusts_the_edge(
    pool: urllib3.PoolManager,
) -> None:
    with LocalStack() as stack, stack.ingest_client() as ingest, stack.playback_client(
    ) as playback, urllib3.PoolManager(ca_certs=stack.ca_bundle, retries=False) as https:
        result = ingest.put("live/ch1/seg1.ts", b"\x47" * 188)
        assert result.status == 200
        assert playback.get("live/ch1/seg1.ts") == b"\x47" * 188
        ingest.delete("live/ch1/seg1.ts")  # DeleteObject is granted to the ingest secret
        assert stack.container.paths() == []
        # the playback distribution cannot read through the ingest one: reads are not
        # granted to the ingest secret by default
        stack.container.write("live/x.ts", b"x")
        with pytest.raises(AccessDeniedError):
            ingest.get("live/x.ts")
        origin = stack.container_endpoint + "/live/direct.ts"
        for agent, expected in (
            ("encoder/1.0", 403),
            (stack.playback_secret.user_agent, 403),  # a playback secret cannot write
            (stack.secret.user_agent, 200),  # whoever knows the secret could: keep it secret
        ):
            r = https.request("PUT", origin, body=b"d", headers={"User-Agent": agent})
            assert r.status == expected, agent
        # plain HTTP to the origin does not even connect
        with pytest.raises(urllib3.exceptions.HTTPError):
            pool.request("PUT", origin.replace("https://", "http://"), body=b"d")


def test_injected_clock_drives_signing_and_verification(pool: urllib3.PoolManager) -> None:
    now = [NOW]
    with LocalStack(clock=lambda: float(now[0])) as stack:
        url = stack.sign_ingest_url("live/a.ts")  # expires NOW + 300 by the stack's clock
        assert f"Expires={NOW + 300}" in url
        assert pool.request("PUT", url, body=b"x").status == 200
        now[0] = NOW + 301
        r = pool.request("PUT", url, body=b"x")
        assert (r.status, r.headers["X-Edge-Error-Detail"]) == (403, "PolicyExpiredError")


def test_https_edges() -> None:
    with LocalStack(edge_tls=True) as stack, stack.ingest_client() as client:
        assert stack.ingest_base_url.startswith("https://")
        assert stack.playback_base_url.startswith("https://")
        client.put("live/a.ts", b"tls")
        with stack.playback_client() as playback:
            assert playback.get("live/a.ts") == b"tls"


def test_unsigned_playback(pool: urllib3.PoolManager) -> None:
    with LocalStack(playback_signed=False) as stack, stack.playback_client() as playback:
        stack.container.write("live/a.ts", b"open")
        assert playback.get("live/a.ts") == b"open"
        assert pool.request("GET", stack.playback_url("live/a.ts")).data == b"open"


def test_ingest_client_survives_injected_faults() -> None:
    plan = FaultPlan(seed=1, failure_rate=0.3, delay=0.01, retry_after=0)
    data = {f"live/seg{i:03d}.ts": bytes([i]) * (20_000 + i) for i in range(30)}
    with LocalStack(faults=plan) as stack, stack.ingest_client(
        config=IngestConfig(ca_bundle=stack.ca_bundle, retry=RetryPolicy(max_attempts=12)),
        sleep=lambda seconds: None,
    ) as client:
        for path, body in data.items():
            client.put(path, body)
        injected = stack.ingest_edge.faults_injected
        assert sum(injected.values()) >= 5, injected
        assert len(injected) >= 4, injected
        for path, body in data.items():
            assert stack.container.read(path) == body
        assert stack.playback_edge.faults_injected == {}
        # every dropped upload reached the origin incomplete and stored nothing extra
        cut = [r for r in stack.container.requests if r.method == "PUT" and r.status is None]
        assert len(cut) == injected.get("drop_request", 0)


# --- origin="s3": a LocalBucket behind Origin Access Control ------------------------------


def test_s3_stack_contract() -> None:
    with LocalStack(origin="s3") as stack:
        assert stack.origin_kind == "s3"
        bucket = stack.bucket
        assert stack.origin is bucket
        assert isinstance(bucket, LocalBucket)
        assert stack.origin_endpoint == bucket.endpoint
        assert bucket.endpoint.startswith("https://127.0.0.1:")
        assert bucket.bucket == "live-origin"
        ingest, playback = stack.ingest_edge, stack.playback_edge
        assert stack.ingest_distribution_arn == (
            f"arn:aws:cloudfront::111122223333:distribution/{ingest.distribution_id}"
        )
        assert stack.playback_distribution_arn.endswith(f"/{playback.distribution_id}")
        assert ingest.origin_access == stack.ingest_access
        assert playback.origin_access == stack.playback_access
        assert stack.ingest_access.access_key_id != stack.playback_access.access_key_id
        assert ingest.origin_headers == playback.origin_headers == {}
        # each OAC credential signs as CloudFront acting for its own distribution
        for access, arn in ((stack.ingest_access, stack.ingest_distribution_arn),
                            (stack.playback_access, stack.playback_distribution_arn)):
            credential = bucket.credentials[access.access_key_id]
            assert credential.principal == "cloudfront.amazonaws.com"
            assert credential.source_arn == arn
        policy = stack.origin_policy
        assert isinstance(policy, BucketPolicy)
        assert bucket.policy == policy
        assert [s.sid for s in policy.statements] == [
            "CloudFrontIngest", "CloudFrontPlayback", "DenyInsecureTransport"
        ]
        assert policy.statements[0].actions == DEFAULT_S3_INGEST_ACTIONS
        assert policy.findings(playback_distributions=[stack.playback_distribution_arn]) == ()
        for name in ("container", "secret", "playback_secret", "container_policy",
                     "container_endpoint"):
            with pytest.raises(LocalStackError, match="origin='s3'"):
                getattr(stack, name)
        assert "bucket='https://127.0.0.1:" in repr(stack)
        assert stack.ingest_access.secret_access_key not in repr(stack)
        ports = [ingest.port, playback.port, bucket.port]
    for port in ports:
        with socket.socket() as s, pytest.raises(OSError):
            s.connect(("127.0.0.1", port))
    with LocalStack() as mediastore:
        with pytest.raises(LocalStackError, match="MediaStore stack"):
            mediastore.bucket  # noqa: B018
        with pytest.raises(LocalStackError, match="MediaStore stack"):
            mediastore.ingest_access  # noqa: B018
    with pytest.raises(InvalidInputError, match="origin"):
        LocalStack(origin="gcs")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="secrets"):
        LocalStack(origin="s3", secret=IngestSecret.generate())


def test_s3_stack_end_to_end_with_ingest_client(tmp_path: Path) -> None:
    segment = hashlib.sha256(b"s3").digest() * 10_000
    playlist_file = tmp_path / "index.m3u8"
    playlist_file.write_bytes(b"#EXTM3U\n#EXTINF:1.0,\nseg1.ts\n")
    with LocalStack(origin="s3") as stack, stack.ingest_client() as ingest, \
            stack.playback_client() as playback:
        result = ingest.put("live/seg1.ts", segment)
        assert result.etag == f'"{hashlib.md5(segment, usedforsecurity=False).hexdigest()}"'
        with playlist_file.open("rb") as fh:
            ingest.put("live/index.m3u8", fh)
        bucket = stack.bucket
        assert bucket.read("live/seg1.ts") == segment
        assert bucket.read("live/index.m3u8") == playlist_file.read_bytes()
        assert playback.get("live/seg1.ts") == segment
        assert playback.head("live/seg1.ts").size == len(segment)
        # What the bucket saw: HTTPS, SigV4 from the ingest OAC key, the viewer's hash.
        puts = [r for r in bucket.requests if r.method == "PUT"]
        assert len(puts) == 2
        assert all(r.tls and r.status == 200 for r in puts)
        key_id = stack.ingest_access.access_key_id
        assert all(
            (r.header("Authorization") or "").startswith(f"AWS4-HMAC-SHA256 Credential={key_id}/")
            for r in puts
        )
        assert puts[0].header("X-Amz-Content-SHA256") == hashlib.sha256(segment).hexdigest()
        assert all("Signature=" not in r.path and "Expires=" not in r.path for r in puts)
        gets = [r for r in bucket.requests if r.method in ("GET", "HEAD")]
        playback_key = stack.playback_access.access_key_id
        assert gets
        assert all(f"Credential={playback_key}/" in (r.header("Authorization") or "")
                   for r in gets)
        # The ingest distribution may not read (GetObject is the playback one's).
        with pytest.raises(AccessDeniedError):
            ingest.head("live/seg1.ts")
        ingest.delete("live/seg1.ts")
        assert bucket.keys() == ["live/index.m3u8"]
        # A missing key reads as AccessDenied: the playback OAC may not ListBucket.
        with pytest.raises(AccessDeniedError):
            playback.get("live/seg1.ts")


def test_s3_stack_refuses_what_s3_behind_oac_refuses() -> None:
    with LocalStack(origin="s3") as stack:
        bucket = stack.bucket
        plain = IngestConfig(ca_bundle=stack.ca_bundle)  # no x-amz-content-sha256
        with stack.ingest_client(config=plain) as client:
            # The edge signs the empty-body hash; the bucket sees a different body.
            with pytest.raises(HTTPStatusError) as info:
                client.put("live/no-hash.ts", b"body")
            assert (info.value.status, info.value.code) == (400, "XAmzContentSHA256Mismatch")
            # A streamed (chunked) body has no length: S3 behind OAC cannot take it.
            with pytest.raises(HTTPStatusError) as info:
                client.put("live/chunked.ts", iter([b"a" * 1000, b"b" * 1000]))
            assert (info.value.status, info.value.code) == (411, "MissingContentLength")
        assert bucket.keys() == []
        # The playback distribution's credential cannot write, whatever it signs.
        body = b"forged"
        url = bucket.url("live/forged.ts")
        headers = stack.playback_access.signed_headers(
            "PUT", url, [("x-amz-content-sha256", hashlib.sha256(body).hexdigest())]
        )
        with urllib3.PoolManager(retries=False, ca_certs=stack.ca_bundle) as tls_pool:
            response = tls_pool.request("PUT", url, body=body, headers=headers)
            assert response.status == 403
            assert b"<Code>AccessDenied</Code>" in response.data
            response = tls_pool.request("PUT", url, body=body)  # anonymous
            assert response.status == 403
            # The same PUT signed by the ingest OAC goes through (the check is the policy).
            headers = stack.ingest_access.signed_headers(
                "PUT", url, [("x-amz-content-sha256", hashlib.sha256(body).hexdigest())]
            )
            assert tls_pool.request("PUT", url, body=body, headers=headers).status == 200
        assert bucket.keys() == ["live/forged.ts"]


def test_s3_stack_survives_injected_faults() -> None:
    plan = FaultPlan(seed=3, failure_rate=0.3, delay=0.01, retry_after=0)
    data = {f"live/seg{i:03d}.ts": bytes([i]) * (5_000 + i) for i in range(20)}
    with LocalStack(origin="s3", faults=plan) as stack, stack.ingest_client(
        config=IngestConfig(ca_bundle=stack.ca_bundle, content_sha256=True,
                            retry=RetryPolicy(max_attempts=12)),
        sleep=lambda seconds: None,
    ) as client:
        for path, body in data.items():
            client.put(path, body)
        assert sum(stack.ingest_edge.faults_injected.values()) >= 3
        assert {k: stack.bucket.read(k) for k in stack.bucket.paths()} == data


# --- the pytest plugin -----------------------------------------------------------------


def _plugin_args() -> list[str]:
    names = {e.name for e in importlib.metadata.entry_points(group="pytest11")}
    return [] if "mediastore_ingest" in names else ["-p", "mediastore_ingest.testing.pytest_plugin"]


def test_plugin_fixtures_in_a_users_test_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import urllib3
        from mediastore_ingest.testing import LocalStack

        def test_everything(mediastore_stack, mediastore_signer, mediastore_key_pair,
                            mediastore_secret, mediastore_container_policy,
                            mediastore_container, mediastore_ingest_edge,
                            mediastore_playback_edge):
            assert isinstance(mediastore_stack, LocalStack)
            assert mediastore_signer is mediastore_stack.signer
            assert mediastore_key_pair.public_key == mediastore_stack.public_key
            assert mediastore_secret is mediastore_stack.secret
            assert mediastore_container_policy is mediastore_stack.container_policy
            assert mediastore_container is mediastore_stack.container
            assert mediastore_ingest_edge.base_url == mediastore_stack.ingest_base_url
            assert mediastore_playback_edge.base_url == mediastore_stack.playback_base_url
            with mediastore_stack.ingest_client() as client:
                client.put("live/seg1.ts", b"media")
            assert mediastore_container.read("live/seg1.ts") == b"media"
            assert mediastore_container.requests[-1].user_agent == mediastore_secret.user_agent
            assert urllib3.request("PUT", mediastore_stack.ingest_url("live/x.ts"),
                                   body=b"x").status == 403

        def test_fresh_stack_per_test(mediastore_container):
            assert mediastore_container.paths() == []

        def test_session_stack(mediastore_stack_session):
            assert mediastore_stack_session.running
        """
    )
    result = pytester.runpytest_inprocess(*_plugin_args(), "-W", "error")
    result.assert_outcomes(passed=3)


def test_plugin_options_fixture_injects_faults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_faulty="""
        import pytest
        import urllib3
        from mediastore_ingest.testing import FaultPlan

        @pytest.fixture
        def mediastore_stack_options():
            return {"faults": FaultPlan.always("http_503"), "key_algorithm": "rsa"}

        def test_faults(mediastore_stack, mediastore_signer):
            assert mediastore_signer.algorithm == "RSA-2048"
            r = urllib3.request("PUT", mediastore_stack.sign_ingest_url("live/a.ts"),
                                body=b"x", retries=False)
            assert r.status == 503
            assert mediastore_stack.ingest_edge.faults_injected == {"http_503": 1}
        """
    )
    result = pytester.runpytest_inprocess(*_plugin_args(), "-W", "error")
    result.assert_outcomes(passed=1)


def test_plugin_fixtures_for_both_origins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_origins="""
        import pytest
        import urllib3
        from mediastore_ingest import LocalStackError
        from mediastore_ingest.testing import LocalBucket, LocalContainer

        @pytest.fixture(params=["mediastore", "s3"])
        def mediastore_stack_options(request):
            return {"origin": request.param}

        def test_the_same_test_on_each_origin(mediastore_stack, mediastore_origin):
            assert mediastore_origin is mediastore_stack.origin
            with mediastore_stack.ingest_client() as client:
                client.put("live/seg1.ts", b"media")
            assert mediastore_origin.read("live/seg1.ts") == b"media"
            assert mediastore_origin.paths() == ["live/seg1.ts"]
            assert urllib3.request("PUT", mediastore_stack.ingest_url("live/x.ts"),
                                   body=b"x").status == 403

        def test_the_origin_specific_fixture(mediastore_stack, request):
            if mediastore_stack.origin_kind == "s3":
                bucket = request.getfixturevalue("mediastore_bucket")
                assert isinstance(bucket, LocalBucket)
                with pytest.raises(LocalStackError, match="S3 origin"):
                    request.getfixturevalue("mediastore_container")
            else:
                assert isinstance(request.getfixturevalue("mediastore_container"),
                                  LocalContainer)
                with pytest.raises(LocalStackError, match="MediaStore stack"):
                    request.getfixturevalue("mediastore_bucket")
        """
    )
    result = pytester.runpytest_inprocess(*_plugin_args(), "-W", "error")
    result.assert_outcomes(passed=4)


def test_plugin_documents_its_fixtures() -> None:
    from mediastore_ingest.testing import pytest_plugin

    doc = pytest_plugin.__doc__ or ""
    for name in pytest_plugin.__all__:
        assert f"``{name}``" in doc, name


def test_the_session_stack_builds_urls_from_a_path(mediastore_stack_session: LocalStack) -> None:
    assert mediastore_stack_session.ingest_url("/live/a.ts").endswith("/live/a.ts")
