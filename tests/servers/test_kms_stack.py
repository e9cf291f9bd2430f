"""KMS-held keys end to end: moto's KMS (server mode) signs, LocalStack's edges verify,
the container stores. A put (SDK and CLI) with a KMS key; the CLI's sign-url /
public-key / verify round trip and the relay command; and a key rotation in the middle
of a stream, through the client and through the signing relay, that loses nothing and
carries the new key id on every request after the switch. All on 127.0.0.1."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mediastore_ingest import (
    AccessDeniedError,
    CustomPolicy,
    IngestConfig,
    KmsSigner,
    RelayConfig,
    RetryPolicy,
    RotatingUrlSigner,
    ScheduledKey,
    SigningRelay,
    UrlSigner,
    parse_cookie_header,
)
from mediastore_ingest.cli import main
from mediastore_ingest.server.base import RecordedRequest
from mediastore_ingest.testing import LocalStack
from tests._support.moto_kms import REGION, SignCounter, create_key, kms_client, kms_server

OLD, NEW = "K1OLDKMSKEY001", "K2NEWKMSKEY002"
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_cap=0.01)


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kms_server(str(tmp_path_factory.mktemp("aws"))) as url:
        yield url


@pytest.fixture
def client(moto_url: str) -> Any:
    return kms_client(moto_url)


class Clock:
    """The stack's time (both edges' "now" and the signers'), moved by hand."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def key_pair_id(request: RecordedRequest) -> str | None:
    """The Key-Pair-Id a viewer request carried (URL parameter or cookie)."""
    query = parse_qs(urlsplit(request.path).query)
    if "Key-Pair-Id" in query:
        return query["Key-Pair-Id"][0]
    cookie = request.header("Cookie")
    return parse_cookie_header(cookie).get("CloudFront-Key-Pair-Id") if cookie else None


def puts(stack: LocalStack) -> list[tuple[str, str | None, int | None]]:
    """(object path, key id, status) of every PUT the ingest edge received, in order."""
    return [
        (urlsplit(r.path).path.lstrip("/"), key_pair_id(r), r.status)
        for r in stack.ingest_edge.requests
        if r.method == "PUT"
    ]


# --- a put through the local stack with a KMS key ------------------------------------------------


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "RSA_2048"])
@pytest.mark.parametrize("auth", ["canned", "channel", "cookie"])
def test_a_put_signed_in_kms_passes_the_edge(client: Any, spec: str, auth: str) -> None:
    kms = KmsSigner(create_key(client, spec), client=client)
    signer = UrlSigner(OLD, kms)
    with LocalStack(signer=signer, trusted_keys={OLD: kms.public_key()}) as stack:
        assert stack.key_id == OLD
        assert stack.public_key == kms.public_key()
        options: dict[str, Any] = {"cookie": {"auth": "cookie"}, "canned": {}}.get(auth, {
            "policy": CustomPolicy(stack.ingest_base_url + "/live/*", int(time.time()) + 600)
        })
        with stack.ingest_client(**options) as ingest:
            for i in range(3):
                ingest.put(f"live/seg{i}.ts", b"segment %d" % i)
        for i in range(3):
            assert stack.container.read(f"live/seg{i}.ts") == b"segment %d" % i
        assert puts(stack) == [(f"live/seg{i}.ts", OLD, 200) for i in range(3)]
        assert all(
            "Hash-Algorithm=SHA256" in r.path or "CloudFront-Hash-Algorithm=SHA256"
            in (r.header("Cookie") or "") for r in stack.ingest_edge.requests
        )


def test_a_put_to_an_s3_origin_signed_in_kms(client: Any) -> None:
    kms = KmsSigner(create_key(client), client=client)
    with LocalStack(
        origin="s3", signer=UrlSigner(OLD, kms), trusted_keys={OLD: kms.public_key_pem()}
    ) as stack, stack.ingest_client() as ingest:
        ingest.put("live/seg0.m4s", b"cmaf")
        assert stack.bucket.read("live/seg0.m4s") == b"cmaf"


def test_the_edge_refuses_a_kms_key_it_does_not_trust(client: Any) -> None:
    trusted = KmsSigner(create_key(client), client=client)
    stranger = KmsSigner(create_key(client), client=client)
    with LocalStack(signer=UrlSigner(OLD, trusted), trusted_keys={OLD: trusted.public_key()}) as stack:
        with stack.ingest_client(signer=UrlSigner(OLD, stranger)) as ingest, pytest.raises(
            AccessDeniedError
        ):
            ingest.put("live/x.ts", b"x")
        assert puts(stack)[-1][2] == 403


def test_local_stack_checks_signer_and_trusted_keys(client: Any) -> None:
    from mediastore_ingest import InvalidInputError, LocalStackError

    kms = KmsSigner(create_key(client), client=client)
    signer = UrlSigner(OLD, kms)
    with pytest.raises(InvalidInputError, match="needs trusted_keys"):
        LocalStack(signer=signer)
    with pytest.raises(InvalidInputError, match="has no key K1OLDKMSKEY001"):
        LocalStack(signer=signer, trusted_keys={NEW: kms.public_key()})
    with pytest.raises(InvalidInputError, match="goes with signer="):
        LocalStack(trusted_keys={OLD: kms.public_key()})
    with pytest.raises(InvalidInputError, match="brings its own key"):
        LocalStack(signer=signer, trusted_keys={OLD: kms.public_key()}, key_id=OLD)
    with LocalStack(signer=signer, trusted_keys={OLD: kms.public_key()}) as stack, pytest.raises(
        LocalStackError, match="holds no key pair"
    ):
        stack.key_pair  # noqa: B018


# --- the command line ------------------------------------------------------------------------------


def kms_args(moto_url: str, arn: str) -> list[str]:
    return ["--kms-key-id", arn, "--kms-endpoint-url", moto_url, "--region", REGION]


def test_cli_put_and_sync_with_a_kms_key(
    client: Any, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = create_key(client, "RSA_2048")
    kms = KmsSigner(arn, client=client)
    (tmp_path / "seg0.ts").write_bytes(b"zero")
    (tmp_path / "index.m3u8").write_bytes(b"#EXTM3U\n")
    with LocalStack(signer=UrlSigner(OLD, kms), trusted_keys={OLD: kms.public_key()}) as stack:
        common = ["--base-url", stack.ingest_base_url, "--key-id", OLD, "--ca-bundle",
                  stack.ca_bundle, "--quiet", "--kms-key-id", arn, "--kms-endpoint-url", moto_url]
        code = main(["put", str(tmp_path / "seg0.ts"), "--to", "live", "--region", REGION, *common])
        assert code == 0, capsys.readouterr().err
        assert main(["sync", str(tmp_path), "--to", "ch2", "--auth", "cookie", *common]) == 0
        assert stack.container.read("live/seg0.ts") == b"zero"
        assert stack.container.read("ch2/index.m3u8") == b"#EXTM3U\n"
    capsys.readouterr()
    bad = main(["put", str(tmp_path / "seg0.ts"), "--to", "x", "--base-url", "http://127.0.0.1:9",
                "--key-id", OLD, "--kms-key-id", arn, "--private-key", "k.pem"])
    assert bad == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "RSA_2048"])
def test_cli_sign_url_public_key_and_verify_round_trip(
    client: Any, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str
) -> None:
    arn = create_key(client, spec)
    assert main(["public-key", *kms_args(moto_url, arn)]) == 0
    pem = capsys.readouterr().out
    assert pem == KmsSigner(arn, client=client).public_key_pem()
    (tmp_path / "pub.pem").write_text(pem)
    url = "https://d111111abcdef8.cloudfront.net/live/seg1.ts"
    assert main(["sign-url", url, "--expires", "+10m", "--key-id", OLD,
                 *kms_args(moto_url, arn)]) == 0
    signed = capsys.readouterr().out.strip()
    assert signed.endswith("&Hash-Algorithm=SHA256")
    assert main(["verify", signed, "--public-key", f"{OLD}={tmp_path / 'pub.pem'}"]) == 0
    assert capsys.readouterr().out.startswith("valid: ")
    assert main(["sign-cookies", "--resource", "https://d111111abcdef8.cloudfront.net/live/*",
                 "--expires", "+1h", "--key-id", OLD, *kms_args(moto_url, arn)]) == 0
    header = capsys.readouterr().out.strip()
    assert main(["verify", url, "--cookie", header,
                 "--public-key", f"{OLD}={tmp_path / 'pub.pem'}"]) == 0
    capsys.readouterr()
    assert main(["sign-url", url, "--expires", "+10m", "--key-id", OLD, "--hash-algorithm",
                 "SHA1", *kms_args(moto_url, arn)]) == 2
    assert "no SHA-1 signing algorithm" in capsys.readouterr().err
    assert main(["public-key", "key.pem", *kms_args(moto_url, arn)]) == 2
    assert "one of them" in capsys.readouterr().err


def test_cli_relay_signs_with_a_kms_key(client: Any, moto_url: str) -> None:
    arn = create_key(client)
    kms = KmsSigner(arn, client=client)
    with LocalStack(signer=UrlSigner(OLD, kms), trusted_keys={OLD: kms.public_key()}) as stack:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediastore_ingest", "relay", "--listen", "127.0.0.1:0",
             "--to", stack.ingest_base_url, "--key-id", OLD, *kms_args(moto_url, arn),
             "--auth", "cookie", "--ca-bundle", stack.ca_bundle, "--prefix", "relay/"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("relay listening on http://127.0.0.1:"), line
            port = int(line.split()[3].rsplit(":", 1)[1])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            conn.request("PUT", "/seg0.ts", body=b"through the relay")
            assert conn.getresponse().status in (200, 201, 204)
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "1 uploaded" in out
        assert stack.container.read("relay/seg0.ts") == b"through the relay"
        assert [kid for _, kid, _ in puts(stack)] == [OLD]


# --- key rotation in the middle of a stream ----------------------------------------------------------


def rotate_mid_stream(
    stack: LocalStack, clock: Clock, rotating: RotatingUrlSigner, new: KmsSigner,
    old_public: Any, push: Any,
) -> None:
    """The rotation procedure, with segments pushed at every step:

    0..3  old key only (in the key group, active);
    4..7  new public key added to the key group, new key scheduled 60 s later: still old;
    8..11 the activation time has come: new key;
    12..15 old key retired from the key group: new key, nothing refused.
    """
    for i in range(4):
        push(i)
    stack.set_trusted_keys({OLD: old_public, NEW: new.public_key()})
    rotating.add_key(ScheduledKey(NEW, new, active_from=int(clock.now) + 60))
    for i in range(4, 8):
        push(i)
        clock.now += 5
    clock.now += 60 - 20
    assert rotating.key_id == NEW
    for i in range(8, 12):
        push(i)
        clock.now += 5
    stack.set_trusted_keys({NEW: new.public_key()})
    assert stack.ingest_edge.trusted_key_ids == (NEW,)
    rotating.remove_key(OLD)
    for i in range(12, 16):
        push(i)


def expected_key_ids() -> list[str]:
    return [OLD] * 8 + [NEW] * 8


@pytest.mark.parametrize("auth", ["channel", "cookie", "canned"])
def test_a_stream_through_the_client_rotates_without_losing_a_segment(
    client: Any, auth: str
) -> None:
    old = KmsSigner(create_key(client), client=client)
    new = KmsSigner(create_key(client, "RSA_2048"), client=client)
    counter = SignCounter(client)
    clock = Clock()
    rotating = RotatingUrlSigner([ScheduledKey(OLD, old, active_from=0)], clock=clock)
    with LocalStack(signer=rotating, trusted_keys={OLD: old.public_key()}, clock=clock) as stack:
        options: dict[str, Any] = {"cookie": {"auth": "cookie"}, "canned": {}}.get(auth, {
            "policy": CustomPolicy(stack.ingest_base_url + "/live/*", int(clock.now) + 300)
        })
        with stack.ingest_client(**options) as ingest:

            def push(i: int) -> None:
                ingest.put(f"live/seg{i}.ts", b"segment %d" % i)

            rotate_mid_stream(stack, clock, rotating, new, old.public_key(), push)
        for i in range(16):
            assert stack.container.read(f"live/seg{i}.ts") == b"segment %d" % i
        assert puts(stack) == [
            (f"live/seg{i}.ts", kid, 200) for i, kid in enumerate(expected_key_ids())
        ]
    # The channel policy and the cookies cost one KMS Sign per key; canned URLs one per segment.
    assert counter.calls == (16 if auth == "canned" else 2)


def test_a_stream_through_the_relay_rotates_without_a_restart(client: Any) -> None:
    old = KmsSigner(create_key(client), client=client)
    new = KmsSigner(create_key(client), client=client)
    clock = Clock()
    rotating = RotatingUrlSigner([ScheduledKey(OLD, old, active_from=0)], clock=clock)
    with LocalStack(signer=rotating, trusted_keys={OLD: old.public_key()}, clock=clock) as stack:
        relay = SigningRelay(
            stack.ingest_base_url,
            signer=rotating,
            auth="cookie",
            config=RelayConfig(prefix="live/"),
            ingest_config=IngestConfig(ca_bundle=stack.ca_bundle, retry=FAST_RETRY),
        )
        with relay:
            conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=20)

            def push(i: int) -> None:  # an encoder's keep-alive PUTs, unsigned
                conn.request("PUT", f"/seg{i}.ts", body=b"segment %d" % i)
                response = conn.getresponse()
                response.read()
                assert response.status < 300, response.status
                # 200 means journaled: let the upload happen before the clock moves on
                assert relay.wait_uploaded(timeout=10)

            rotate_mid_stream(stack, clock, rotating, new, old.public_key(), push)
            conn.close()
            stats = relay.stats()
        assert (stats.uploaded, stats.failed) == (16, 0)
        for i in range(16):
            assert stack.container.read(f"live/seg{i}.ts") == b"segment %d" % i
        assert [(kid, status) for _, kid, status in puts(stack)] == [
            (kid, 200) for kid in expected_key_ids()
        ]


def test_after_retirement_the_old_key_is_refused(client: Any) -> None:
    old = KmsSigner(create_key(client), client=client)
    new = KmsSigner(create_key(client), client=client)
    with LocalStack(signer=UrlSigner(NEW, new), trusted_keys={OLD: old.public_key(),
                                                               NEW: new.public_key()}) as stack:
        with stack.ingest_client(signer=UrlSigner(OLD, old)) as ingest:
            ingest.put("live/a.ts", b"a")
            stack.ingest_edge.remove_trusted_key(OLD)
            with pytest.raises(AccessDeniedError):
                ingest.put("live/b.ts", b"b")
        with stack.ingest_client() as ingest:
            ingest.put("live/c.ts", b"c")
        assert [status for _, _, status in puts(stack)] == [200, 403, 200]
