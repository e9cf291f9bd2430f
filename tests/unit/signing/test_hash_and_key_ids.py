"""SHA-256 by default, a clear error when the OS crypto policy refuses SHA-1, and
upper-case key IDs.

Sources for the default: CloudFront takes ``Hash-Algorithm=SHA256`` (signed URLs) and
``CloudFront-Hash-Algorithm=SHA256`` (cookies) at every edge location since 2026-04
(AWS "What's new", 2026-04; the Developer Guide's "Create a signed URL using a canned
policy" and "Linux commands and OpenSSL" pages); SHA-1 remains what CloudFront assumes
when the parameter is absent. AWS KMS signs with SHA-256 or stronger only, and RHEL 9,
FIPS mode and other hardened OpenSSL policies refuse SHA-1 signatures, where
``cryptography`` raises ``UnsupportedAlgorithm: sha1 is not supported by this backend
for RSA signing`` (PGPy issue #438, on RHEL 9). One default for every key, SHA-256, is
the one that works everywhere: in-memory keys, KMS keys and ``LocalStack`` agree.
"""

from __future__ import annotations

import pytest
from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import mediastore_ingest.errors as errors
from mediastore_ingest.errors import InvalidInputError, SigningError
from mediastore_ingest.signing.policy import CustomPolicy
from mediastore_ingest.signing.rotation import RotatingUrlSigner, ScheduledKey
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import SignedUrl, UrlVerifier

BASE = "https://d1.cloudfront.net"
URL = f"{BASE}/live/seg1.ts"
KID = "K2JCJMDEHXQW5F"
T = 2_000_000_000
NOW = T - 3600


# -- the default hash ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["rsa", "ec"])
def test_sha256_is_the_default_for_an_in_memory_key(which: str, rsa_key, ec_key) -> None:  # type: ignore[no-untyped-def]
    key = rsa_key if which == "rsa" else ec_key
    signer = UrlSigner(KID, key, clock=lambda: NOW)
    assert signer.hash_algorithm == "SHA256"
    signed = signer.sign_url(URL, expires=T)
    assert signed.endswith("&Hash-Algorithm=SHA256")
    cookies = signer.sign_cookies(CustomPolicy(f"{BASE}/live/*", T))
    assert cookies["CloudFront-Hash-Algorithm"] == "SHA256"
    verifier = UrlVerifier({KID: key.public_key()}, clock=lambda: NOW)
    assert verifier.verify_url(signed).expires == T
    assert SignedUrl.parse(signed).hash_algorithm == "SHA256"


def test_sha1_is_still_there_for_those_who_ask(rsa_key) -> None:  # type: ignore[no-untyped-def]
    signer = UrlSigner(KID, rsa_key, hash_algorithm="SHA1", clock=lambda: NOW)
    signed = signer.sign_url(URL, expires=T)
    assert "Hash-Algorithm" not in signed
    assert UrlVerifier({KID: rsa_key.public_key()}).verify_url(signed, now=NOW).expires == T


def test_a_rotating_signer_defaults_to_sha256_too(rsa_key) -> None:  # type: ignore[no-untyped-def]
    rotating = RotatingUrlSigner([ScheduledKey(KID, rsa_key, active_from=0)], clock=lambda: NOW)
    assert rotating.hash_algorithm == "SHA256"


# -- SHA-1 refused by the OS crypto policy -------------------------------------------------------
#
# No FIPS or RHEL 9 machine can be had here, so each test below gives the signer a key
# whose sign() raises what cryptography raises when OpenSSL's policy refuses SHA-1.


class _Delegating:
    """What both key types below pass on to the real key unchanged."""

    def __init__(self, key, error: Exception) -> None:  # type: ignore[no-untyped-def]
        self._key = key
        self._error = error

    key_size = property(lambda self: self._key.key_size)

    def public_key(self):  # type: ignore[no-untyped-def]
        return self._key.public_key()

    def private_numbers(self):  # type: ignore[no-untyped-def]
        return self._key.private_numbers()

    def private_bytes(self, encoding, format, encryption_algorithm):  # type: ignore[no-untyped-def]
        return self._key.private_bytes(encoding, format, encryption_algorithm)

    def __copy__(self):  # type: ignore[no-untyped-def]
        return self

    def __deepcopy__(self, memo):  # type: ignore[no-untyped-def]
        return self


class _PolicyRefusesSha1RsaKey(_Delegating, rsa.RSAPrivateKey):
    """An RSA key on a machine whose crypto policy refuses SHA-1 signatures."""

    def sign(self, data, padding, algorithm):  # type: ignore[no-untyped-def]
        if isinstance(algorithm, hashes.SHA1):
            raise self._error
        return self._key.sign(data, padding, algorithm)

    def decrypt(self, ciphertext, padding):  # type: ignore[no-untyped-def]
        return self._key.decrypt(ciphertext, padding)


class _PolicyRefusesSha1EcKey(_Delegating, ec.EllipticCurvePrivateKey):
    """An ECDSA P-256 key on such a machine."""

    def sign(self, data, signature_algorithm):  # type: ignore[no-untyped-def]
        if isinstance(signature_algorithm.algorithm, hashes.SHA1):
            raise self._error
        return self._key.sign(data, signature_algorithm)

    curve = property(lambda self: self._key.curve)

    def exchange(self, algorithm, peer_public_key):  # type: ignore[no-untyped-def]
        return self._key.exchange(algorithm, peer_public_key)


_REFUSALS = [
    UnsupportedAlgorithm("sha1 is not supported by this backend for RSA signing."),
    InternalError("Unknown OpenSSL error. This error is commonly encountered when another "
                  "library is not cleaning up the OpenSSL error stack.", []),
]


@pytest.mark.parametrize("which", ["rsa", "ec"])
@pytest.mark.parametrize("refusal", _REFUSALS, ids=["UnsupportedAlgorithm", "InternalError"])
def test_sha1_refused_by_the_crypto_policy_says_to_use_sha256(
    which: str, refusal: Exception, rsa_key, ec_key  # type: ignore[no-untyped-def]
) -> None:
    key = (_PolicyRefusesSha1RsaKey(rsa_key, refusal) if which == "rsa"
           else _PolicyRefusesSha1EcKey(ec_key, refusal))
    signer = UrlSigner(KID, key, hash_algorithm="SHA1", clock=lambda: NOW)
    refused = errors.HashAlgorithmRefusedError  # type: ignore[attr-defined]
    with pytest.raises(refused) as info:
        signer.sign_url(URL, expires=T)
    assert isinstance(info.value, SigningError)
    assert info.value.hash_algorithm == "SHA1"
    message = str(info.value)
    assert "SHA-1" in message
    assert "hash_algorithm='SHA256'" in message
    assert info.value.__cause__ is refusal
    # The same key signs with SHA-256, which such policies allow.
    ok = UrlSigner(KID, key, clock=lambda: NOW)
    assert ok.sign_url(URL, expires=T).endswith("&Hash-Algorithm=SHA256")


def test_an_internal_error_with_sha256_is_a_plain_signing_error(rsa_key) -> None:  # type: ignore[no-untyped-def]
    class Broken(_PolicyRefusesSha1RsaKey):
        def sign(self, data, padding, algorithm):  # type: ignore[no-untyped-def]
            raise InternalError("Unknown OpenSSL error.", [])

    signer = UrlSigner(KID, Broken(rsa_key, RuntimeError()), clock=lambda: NOW)
    with pytest.raises(SigningError) as info:
        signer.sign_url(URL, expires=T)
    assert type(info.value) is SigningError


# -- key IDs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key_id", ["k2jcjmdehxqw5f", "K2jcjmdehxqw5f", "apkaeibaerjr2example"])
def test_a_lower_case_key_id_is_refused_everywhere(key_id: str, rsa_key) -> None:  # type: ignore[no-untyped-def]
    for make in (
        lambda: UrlSigner(key_id, rsa_key),
        lambda: UrlVerifier({key_id: rsa_key.public_key()}),
        lambda: RotatingUrlSigner([ScheduledKey(key_id, rsa_key, active_from=0)]),
    ):
        with pytest.raises(InvalidInputError, match="upper-case") as info:
            make()
        assert repr(key_id.upper()) in str(info.value)  # the likely intended ID


@pytest.mark.parametrize("key_id", ["K2JCJMDEHXQW5F", "APKAEIBAERJR2EXAMPLE", "KECKEY", "K1"])
def test_upper_case_key_ids_are_accepted(key_id: str, rsa_key) -> None:  # type: ignore[no-untyped-def]
    assert UrlSigner(key_id, rsa_key).key_id == key_id
    UrlVerifier({key_id: rsa_key.public_key()})


def test_a_request_with_a_lower_case_key_id_is_an_unknown_key(rsa_key) -> None:  # type: ignore[no-untyped-def]
    signed = UrlSigner(KID, rsa_key, clock=lambda: NOW).sign_url(URL, expires=T)
    verifier = UrlVerifier({KID: rsa_key.public_key()}, clock=lambda: NOW)
    with pytest.raises(errors.UnknownKeyIdError):
        verifier.verify_url(signed.replace(KID, KID.lower()))
