"""Shared fixtures: keys are generated once per session (RSA generation is slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ruby_key_pem() -> bytes:
    return (VECTORS / "aws-sdk-ruby-unit-test-key.pem").read_bytes()
