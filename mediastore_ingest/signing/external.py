"""Signing keys held outside the process: AWS KMS, an HSM, a signing service.

[`UrlSigner`][mediastore_ingest.signing.UrlSigner] takes, as ``private_key``, an in-memory key or
any object that keeps its private key elsewhere and answers three questions: the
[`ExternalSigner`][mediastore_ingest.signing.ExternalSigner] protocol. ``algorithm`` is the key
(``"RSA-2048"`` or ``"ECDSA-P256"``: the keys CloudFront key groups take), ``hash_algorithm`` the
hash its signatures use (``"SHA1"`` or ``"SHA256"``), and ``sign(message)`` returns the signature
over ``message`` as CloudFront expects it: RSA PKCS#1 v1.5, or ECDSA as DER (the X9.62 ``SEQUENCE``
of ``r`` and ``s``; a PKCS#11 token's raw ``r || s`` must be
encoded first, e.g. with ``cryptography``'s ``encode_dss_signature``)::

    class HsmSigner:
        algorithm = "ECDSA-P256"
        hash_algorithm = "SHA256"

        def sign(self, message: bytes) -> bytes:
            return token.sign(message)  # DER ECDSA over SHA-256

    signer = UrlSigner("K2JCJMDEHXQW5F", HsmSigner())

[`KmsSigner`][mediastore_ingest.signing.KmsSigner] is the one this package ships.

The signer checks the pairing when it is made and refuses, with
[`UnsupportedKeyError`][mediastore_ingest.errors.UnsupportedKeyError], a key or hash CloudFront does
not take, or a ``hash_algorithm=`` the external key cannot sign with (AWS KMS has no
SHA-1 signing algorithm, so a KMS key always signs ``Hash-Algorithm=SHA256`` URLs).
Each signature is checked for its form (an RSA-2048 signature is 256 bytes, an ECDSA
one DER) before it goes into a URL. An exception from ``sign`` that is not one of this
package's becomes a [`SigningError`][mediastore_ingest.errors.SigningError] chained to it.

Signatures are cached per policy by the [`UrlSigner`][mediastore_ingest.signing.UrlSigner] as they
are for in-memory keys, so a wildcard policy is signed once, however many URLs use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest.errors import (
    InvalidInputError,
    MediaStoreIngestError,
    SigningError,
    UnsupportedKeyError,
)

if TYPE_CHECKING:
    from mediastore_ingest.signing.signer import HashAlgorithm

__all__ = ["EXTERNAL_ALGORITHMS", "ExternalSigner", "bind_external", "is_external_signer"]

#: The key types an external signer may hold: those CloudFront key groups take.
EXTERNAL_ALGORITHMS = ("RSA-2048", "ECDSA-P256")
_HASHES = ("SHA1", "SHA256")
_RSA_2048_BYTES = 256


@runtime_checkable
class ExternalSigner(Protocol):
    """A private key held elsewhere, that signs bytes on request."""

    @property
    def algorithm(self) -> str:
        """``"RSA-2048"`` (PKCS#1 v1.5 signatures) or ``"ECDSA-P256"`` (DER)."""
        ...

    @property
    def hash_algorithm(self) -> str:
        """``"SHA1"`` or ``"SHA256"``: the hash every signature is made over."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The signature over ``message`` (the policy bytes, unhashed)."""
        ...


def is_external_signer(value: object) -> bool:
    """Whether ``value`` is an [`ExternalSigner`][mediastore_ingest.signing.ExternalSigner]
    (not an in-memory key, key bytes, PEM text or a path)."""
    if isinstance(
        value, (bytes, str, os.PathLike, rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)
    ):
        return False
    return isinstance(value, ExternalSigner)


def _described(signer: object) -> str:
    return f"the external signer {type_name(signer)}"


def bind_external(
    signer: ExternalSigner,
    hash_algorithm: str | None,
    *,
    key_id: str,
    password: object = None,
) -> tuple[HashAlgorithm, str, Callable[[bytes], bytes]]:
    """Check ``signer`` against what CloudFront and the signer can do; return
    ``(hash algorithm, algorithm, sign)`` where ``sign(message)`` is the checked
    signature. ``hash_algorithm=None`` takes the signer's own."""
    if password is not None:
        raise InvalidInputError(
            "password= is for key files; an external signer holds its key itself"
        )
    algorithm = signer.algorithm
    if algorithm not in EXTERNAL_ALGORITHMS:
        raise UnsupportedKeyError(
            f"{_described(signer)} says its algorithm is {shown(algorithm)}; CloudFront key "
            f"groups take {' or '.join(EXTERNAL_ALGORITHMS)} keys"
        )
    own = signer.hash_algorithm
    if own not in _HASHES:
        raise UnsupportedKeyError(
            f"{_described(signer)} says it hashes with {shown(own)}; CloudFront takes "
            "SHA1 or SHA256 signatures"
        )
    if hash_algorithm is not None:
        asked = hash_algorithm.upper().replace("-", "") if isinstance(hash_algorithm, str) else None
        if asked not in _HASHES:
            raise InvalidInputError(
                f"hash_algorithm must be 'SHA1' or 'SHA256', not {shown(hash_algorithm)}"
            )
        if asked != own:
            why = (
                " (AWS KMS has no SHA-1 signing algorithm; CloudFront takes SHA-256 "
                "signatures, sent with Hash-Algorithm=SHA256)"
                if own == "SHA256"
                else ""
            )
            raise UnsupportedKeyError(
                f"{_described(signer)} signs with {own} only, so it cannot make "
                f"{asked} signatures{why}: use hash_algorithm={own!r} or leave it out"
            )
    sign = signer.sign
    if not callable(sign):
        raise InvalidInputError(f"{_described(signer)} has no callable sign(message)")
    check = _check_rsa if algorithm == "RSA-2048" else _check_ecdsa
    name = _described(signer)

    def external_sign(message: bytes) -> bytes:
        try:
            signature = sign(message)
        except MediaStoreIngestError:
            raise
        except Exception as exc:
            raise SigningError(f"{name} failed to sign for key {key_id}: {exc}") from exc
        problem = check(signature)
        if problem:
            raise SigningError(f"{name} returned {problem} for key {key_id}")
        return bytes(signature)

    return cast("HashAlgorithm", own), algorithm, external_sign


def _check_rsa(signature: object) -> str | None:
    if not isinstance(signature, (bytes, bytearray)):
        return f"a {type_name(signature)}, not bytes"
    if len(signature) != _RSA_2048_BYTES:
        return f"{len(signature)} bytes; an RSA-2048 signature is {_RSA_2048_BYTES}"
    return None


def _check_ecdsa(signature: object) -> str | None:
    if not isinstance(signature, (bytes, bytearray)):
        return f"a {type_name(signature)}, not bytes"
    try:
        decode_dss_signature(bytes(signature))
    except ValueError:
        return (
            f"{len(signature)} bytes that are not a DER ECDSA signature (a raw r || s "
            "must be DER-encoded, e.g. with encode_dss_signature)"
        )
    return None
