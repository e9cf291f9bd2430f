"""Fixtures every test folder shares.

The package's own pytest plugin (``mediastore_ingest.testing.pytest_plugin``, loaded
through its ``pytest11`` entry point) provides the ``mediastore_*`` fixtures: a running
:class:`~mediastore_ingest.testing.LocalStack` (``mediastore_stack``, configured by
``mediastore_stack_options``; ``mediastore_stack_session``) and its parts. Tests use
those rather than a local copy; what the plugin does not offer is here:

- keys, generated once per session (RSA generation is slow), the shared vectors, and
  ``key_files`` (the RSA key pair as PEM files, for the command line);
- ``ca``: one :class:`~mediastore_ingest.testing.LocalCA` for the session;
- ``container`` (the default policy: only the account may write) and
  ``writable_container`` (anyone may put and get ``live/*`` over HTTPS), on that CA;
- ``pool``: a urllib3 pool that does not retry, so every answer is seen as sent;
- for ``aws/``: ``clean_env`` (no real AWS configuration), ``aws`` (the test module's
  ``moto_url`` emptied, dummy credentials) and its ``session``; ``s3_origin``, moto's S3
  in its own process with SigV4 checked. No module here imports moto at import time, so
  ``unit/`` runs without it.

Layout: ``unit/<area>/`` mirrors the package, ``servers/`` runs the local servers over
real sockets, ``aws/`` needs moto, ``e2e/`` runs whole workflows (the command line,
the demo, ffmpeg), ``meta/`` checks the project itself; helpers live in ``_support/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mediastore_ingest.testing import LocalCA, LocalContainer
from tests._support import VECTORS
from tests._support.moto_s3 import S3Origin, moto_s3_server
from tests._support.policies import OPEN_WRITE

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ruby_key_pem() -> bytes:
    return (VECTORS / "aws-sdk-ruby-unit-test-key.pem").read_bytes()


@pytest.fixture
def key_files(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> tuple[Path, Path]:
    """``rsa_key`` as PKCS#8 PEM and its public key as SubjectPublicKeyInfo PEM, in files."""
    priv = tmp_path / "private.pem"
    pub = tmp_path / "public.pem"
    priv.write_bytes(rsa_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    pub.write_bytes(rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


@pytest.fixture(scope="session")
def ca() -> Iterator[LocalCA]:
    """The certificate authority of the local HTTPS servers (``ca.ca_bundle`` trusts them)."""
    with LocalCA() as authority:
        yield authority


@pytest.fixture
def container(ca: LocalCA) -> Iterator[LocalContainer]:
    """An HTTPS LocalContainer with the default policy (the account only, over HTTPS)."""
    with LocalContainer(ca=ca) as c:
        yield c


@pytest.fixture
def writable_container(ca: LocalCA) -> Iterator[LocalContainer]:
    """An HTTPS LocalContainer anyone may put to and get from (``live/*``, over HTTPS)."""
    with LocalContainer(ca=ca, policy=OPEN_WRITE) as c:
        yield c


@pytest.fixture
def pool() -> Iterator[urllib3.PoolManager]:
    """A urllib3 pool that never retries (10 s timeouts)."""
    with urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(10)) as manager:
        yield manager


# --- AWS stand-ins for tests/aws (moto is imported only when one is used) -------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real AWS config, no metadata service: only what a test sets."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                 "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@pytest.fixture
def aws(moto_url: str, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto URL, emptied, with dummy credentials in the environment (``moto_url``
    is the test module's own moto server)."""
    from tests._support.moto_server import reset  # moto only where a test asks for it

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reset(moto_url)
    return moto_url


@pytest.fixture
def session(aws: str) -> botocore.session.Session:
    s = botocore.session.Session()
    s.set_credentials("testing", "testing")
    return s


@pytest.fixture(scope="module")
def s3_origin() -> Iterator[S3Origin]:
    """moto's S3 in its own process with SigV4 checked: a bucket and an OAC principal."""
    with moto_s3_server() as origin:
        yield origin
