"""Small things tests need from a running LocalStack."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from mediastore_ingest.testing import LocalStack


def private_pem(stack: LocalStack) -> bytes:
    """The stack's signing key as unencrypted PKCS#8 PEM (for ``--private-key``)."""
    return stack.key_pair.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
