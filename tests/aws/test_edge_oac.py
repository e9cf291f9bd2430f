"""LocalEdge with Origin Access Control: viewer → edge → moto's S3 over real HTTP.

The edge re-signs every forwarded request with SigV4 (botocore) as CloudFront's OAC
does, over the viewer's declared ``x-amz-content-sha256``; moto checks the signature.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
import urllib3
from cryptography.hazmat.primitives.asymmetric import ec

from mediastore_ingest import IngestClient, IngestConfig, UrlSigner
from mediastore_ingest.errors import AccessDeniedError, HTTPStatusError, InvalidInputError
from mediastore_ingest.testing import LocalEdge, OriginAccessControl
from tests._support.moto_s3 import REGION, S3Origin

KID = "KOACTEST"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _edge(origin: S3Origin, key: ec.EllipticCurvePrivateKey, secret: str | None = None) -> LocalEdge:
    oac = OriginAccessControl(origin.access_key_id, secret or origin.secret_access_key, REGION)
    return LocalEdge(f"{origin.endpoint}/{origin.bucket}", key_group={KID: key.public_key()},
                     origin_access=oac)


def test_put_get_delete_through_oac(s3_origin: S3Origin, key) -> None:
    data = hashlib.sha256(b"seg").digest() * 4096
    with _edge(s3_origin, key) as edge:
        client = IngestClient(edge.base_url, signer=UrlSigner(KID, key),
                              config=IngestConfig(content_sha256=True))
        result = client.put("ch1/seg1.ts", data)
        assert result.status == 200
        stored = s3_origin.client().get_object(Bucket=s3_origin.bucket, Key="ch1/seg1.ts")
        assert stored["Body"].read() == data
        assert client.get("ch1/seg1.ts") == data
        client.delete("ch1/seg1.ts")
        with pytest.raises(Exception, match=r"NoSuchKey|Not Found|404"):
            s3_origin.client().get_object(Bucket=s3_origin.bucket, Key="ch1/seg1.ts")
        # The origin saw the edge's signature, never the viewer's query parameters.
        forwarded = edge.forwarded[0]
        assert forwarded.header("Authorization").startswith("AWS4-HMAC-SHA256 Credential=")
        assert forwarded.header("X-Amz-Content-SHA256") == hashlib.sha256(data).hexdigest()
        assert "Signature=" not in forwarded.path


def test_wrong_oac_credentials_are_refused_by_s3(s3_origin: S3Origin, key) -> None:
    with _edge(s3_origin, key, secret="not-the-secret") as edge:
        client = IngestClient(edge.base_url, signer=UrlSigner(KID, key),
                              config=IngestConfig(content_sha256=True))
        with pytest.raises(AccessDeniedError):
            client.put("ch1/denied.ts", b"x" * 100)
    with pytest.raises(Exception, match=r"NoSuchKey|Not Found|404"):
        s3_origin.client().get_object(Bucket=s3_origin.bucket, Key="ch1/denied.ts")


def test_the_edge_still_requires_the_viewer_signature(s3_origin: S3Origin, key) -> None:
    with _edge(s3_origin, key) as edge:
        response = urllib3.PoolManager().request("PUT", edge.base_url + "/ch1/x.ts", body=b"x")
        assert response.status == 403
        assert edge.forwarded == []


def test_viewer_authorization_is_replaced(s3_origin: S3Origin, key) -> None:
    with _edge(s3_origin, key) as edge:
        url = UrlSigner(KID, key).sign_url(edge.base_url + "/ch1/auth.ts", expires=2_000_000_000)
        body = b"abc"
        response = urllib3.PoolManager().request(
            "PUT", url, body=body,
            headers={"Authorization": "Bearer viewer-token",
                     "x-amz-content-sha256": hashlib.sha256(body).hexdigest()},
        )
        assert response.status == 200
        assert "viewer-token" not in (edge.forwarded[-1].header("Authorization") or "")


def test_oac_validation() -> None:
    with pytest.raises(InvalidInputError):
        OriginAccessControl("", "x")
    with pytest.raises(InvalidInputError):
        LocalEdge("http://127.0.0.1:9", require_signature=False, origin_access="oac")  # type: ignore[arg-type]
    assert "secret" not in repr(OriginAccessControl("AKID", "secret-value"))
    assert issubclass(AccessDeniedError, HTTPStatusError)


def test_oac_signed_headers_unchanged_for_valid_input() -> None:
    headers = OriginAccessControl("AKIDOAC", "oac-secret-value").signed_headers(
        "PUT", "https://127.0.0.1:1/b/a.ts", {"X-Amz-Content-SHA256": "a" * 64}.items()
    )
    assert headers["X-Amz-Content-SHA256"] == "a" * 64
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDOAC/")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not on PATH (CI installs it)")
def test_ffmpeg_through_the_relay_into_moto_s3(s3_origin: S3Origin, key, tmp_path) -> None:
    """The ffmpeg relay proof on the S3 origin, verified in moto's S3: ffmpeg → relay
    (S3 profile) → LocalEdge (OAC, SigV4 checked by moto) → moto's S3."""
    from mediastore_ingest import RelayConfig, SigningRelay
    from tests._support.ffmpeg import FAST_RETRY, encode_args, http_args, local_copy

    expected = local_copy(tmp_path, "hls", 3)
    with _edge(s3_origin, key) as edge:
        relay = SigningRelay(
            edge.base_url, signer=UrlSigner(KID, key),
            config=RelayConfig(prefix="ffmpeg/", streaming_segments=False),
            ingest_config=IngestConfig(origin="s3", retry=FAST_RETRY),
        )
        with relay:
            subprocess.run([*encode_args(3, "hls"), *http_args(), f"{relay.url}/index.m3u8"],
                           check=True, timeout=60)
        assert relay.stats().failed == 0
    s3 = s3_origin.client()
    for name, data in expected.items():
        stored = s3.get_object(Bucket=s3_origin.bucket, Key=f"ffmpeg/{name}")["Body"].read()
        assert stored == data, name
