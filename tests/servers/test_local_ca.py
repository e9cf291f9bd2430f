"""LocalCA: certificates for loopback that follow an injected clock, and that real clients
(urllib3, ssl, curl) trust through the CA bundle."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator

import pytest
import urllib3
from cryptography import x509

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.testing import LocalCA
from tests._support.echo import EchoServer

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def server(ca: LocalCA) -> Iterator[EchoServer]:
    with EchoServer(ssl_context=ca.server_context()) as s:
        yield s  # type: ignore[misc]


def test_certificates_cover_loopback_and_follow_now(tmp_path: object) -> None:
    with LocalCA(now=lambda: NOW, validity=datetime.timedelta(hours=2)) as ca:
        cert_pem, key_pem = ca.issue_server_certificate()
        leaf = x509.load_pem_x509_certificates(cert_pem)[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
        assert san.get_values_for_type(x509.DNSName) == ["localhost"]
        assert leaf.not_valid_after_utc == NOW + datetime.timedelta(hours=2)
        assert leaf.not_valid_before_utc < NOW
        assert leaf.issuer == ca.ca_certificate.subject
        assert ca.ca_certificate.not_valid_after_utc == NOW + datetime.timedelta(hours=2)
        assert b"PRIVATE KEY" in key_pem
        assert "PRIVATE" not in repr(ca)
        with open(ca.ca_bundle, "rb") as fh:
            assert fh.read() == ca.ca_pem


def test_ca_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        LocalCA(validity=datetime.timedelta(0))
    with pytest.raises(InvalidInputError):
        LocalCA(now=lambda: datetime.datetime(2030, 1, 1))


def test_expired_certificate_is_refused_by_clients() -> None:
    # Certificates made for a moment long past: a verifying client refuses them.
    past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
    with (
        LocalCA(now=lambda: past) as old,
        EchoServer(ssl_context=old.server_context()) as s,
        socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        old.client_context().wrap_socket(raw, server_hostname="127.0.0.1")


def test_tls_round_trip_and_untrusted_client(ca: LocalCA, server: EchoServer) -> None:
    assert server.base_url == f"https://127.0.0.1:{server.port}"
    response = urllib3.PoolManager(ca_certs=ca.ca_bundle).request("GET", server.base_url + "/x")
    assert (response.status, response.data) == (200, b"hello")
    with LocalCA() as other, pytest.raises(urllib3.exceptions.SSLError):
        urllib3.PoolManager(ca_certs=other.ca_bundle, retries=False).request(
            "GET", server.base_url + "/x"
        )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_accepts_the_ca_bundle(ca: LocalCA, server: EchoServer) -> None:
    for host in ("127.0.0.1", "localhost"):
        out = subprocess.run(
            ["curl", "-sS", "--cacert", ca.ca_bundle, f"https://{host}:{server.port}/x"],
            capture_output=True,
            check=True,
            timeout=30,
            # curl resolves localhost itself; it must stay on loopback
        )
        assert out.stdout == b"hello"


def test_issued_certificates_cover_the_given_hosts(ca: LocalCA) -> None:
    cert_pem, _ = ca.issue_server_certificate(["127.0.0.1", "localhost", "::1"])
    assert cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")
