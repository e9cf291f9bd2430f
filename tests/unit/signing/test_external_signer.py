"""UrlSigner with an ExternalSigner: a key held elsewhere (an HSM, KMS) behind the same
signer, checked for pairings CloudFront or the key cannot do, cached the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from mediastore_ingest import (
    CustomPolicy,
    ExternalSigner,
    InvalidInputError,
    KmsKeyNotFoundError,
    KmsThrottlingError,
    SigningError,
    UnsupportedKeyError,
    UrlSigner,
    UrlVerifier,
)
from mediastore_ingest.signing.external import is_external_signer

KID = "K2JCJMDEHXQW5F"
EXPIRES = 2_000_000_000
BASE = "https://d111111abcdef8.cloudfront.net/live/"
_HASH = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256}


class InMemoryHsm:
    """An external signer over an in-memory key (a stand-in for an HSM), counting."""

    def __init__(self, key: Any, hash_algorithm: str = "SHA256") -> None:
        self.key = key
        self.hash_algorithm = hash_algorithm
        self.algorithm = "ECDSA-P256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RSA-2048"
        self.calls = 0

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        digest = _HASH[self.hash_algorithm]()
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(message, padding.PKCS1v15(), digest)
        return self.key.sign(message, ec.ECDSA(digest))


class Fixed:
    """An external signer that returns (or raises) what it is told."""

    algorithm = "ECDSA-P256"
    hash_algorithm = "SHA256"

    def __init__(self, result: object) -> None:
        self.result = result

    def sign(self, message: bytes) -> Any:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@pytest.mark.parametrize("hash_algorithm", ["SHA1", "SHA256"])
def test_an_rsa_external_signer_gives_the_same_urls_as_the_key_itself(
    rsa_key: rsa.RSAPrivateKey, hash_algorithm: str
) -> None:
    # PKCS#1 v1.5 is deterministic: the same key, in memory or behind the protocol,
    # gives byte-identical signed URLs and cookies.
    inside = UrlSigner(KID, rsa_key, hash_algorithm=hash_algorithm)
    outside = UrlSigner(KID, InMemoryHsm(rsa_key, hash_algorithm))
    assert outside.hash_algorithm == hash_algorithm
    assert outside.algorithm == "RSA-2048"
    policy = CustomPolicy(BASE + "*", EXPIRES)
    assert outside.sign_url(BASE + "a.ts", expires=EXPIRES) == inside.sign_url(
        BASE + "a.ts", expires=EXPIRES
    )
    assert outside.sign_cookies(policy) == inside.sign_cookies(policy)


def test_an_ecdsa_external_signer_verifies(ec_key: ec.EllipticCurvePrivateKey) -> None:
    signer = UrlSigner(KID, InMemoryHsm(ec_key))
    verifier = UrlVerifier({KID: ec_key.public_key()})
    url = signer.sign_url(BASE + "a.ts", expires=EXPIRES)
    assert url.endswith("&Hash-Algorithm=SHA256")
    assert verifier.verify_url(url, now=0).resource == BASE + "a.ts"
    policy = CustomPolicy(BASE + "*", EXPIRES)
    assert verifier.verify_cookies(BASE + "b.ts", signer.sign_cookies(policy), now=0) == policy
    assert repr(signer) == (
        f"UrlSigner(key_id={KID!r}, algorithm='ECDSA-P256', hash_algorithm='SHA256')"
    )


def test_a_wildcard_policy_calls_the_external_signer_once(ec_key: ec.EllipticCurvePrivateKey) -> None:
    hsm = InMemoryHsm(ec_key)
    signer = UrlSigner(KID, hsm)
    policy = CustomPolicy(BASE + "*", EXPIRES)
    for i in range(100):
        signer.sign_url(f"{BASE}seg{i}.ts", policy=policy)
    signer.cookie_header(policy)
    assert hsm.calls == 1
    signer.sign(b"uncached")
    signer.sign(b"uncached")
    assert hsm.calls == 3


def test_the_hash_defaults_to_the_external_signers_and_sha256_for_a_key(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    assert UrlSigner(KID, InMemoryHsm(ec_key, "SHA1")).hash_algorithm == "SHA1"
    assert UrlSigner(KID, InMemoryHsm(ec_key, "SHA256")).hash_algorithm == "SHA256"
    assert UrlSigner(KID, ec_key).hash_algorithm == "SHA256"
    assert UrlSigner(KID, ec_key, hash_algorithm=None).hash_algorithm == "SHA256"
    assert UrlSigner(KID, ec_key, hash_algorithm="sha-256").hash_algorithm == "SHA256"


@pytest.mark.parametrize(
    ("own", "asked", "match"),
    [
        ("SHA256", "SHA1", "no SHA-1 signing algorithm"),
        ("SHA1", "SHA256", "signs with SHA1 only"),
    ],
)
def test_a_hash_the_external_key_cannot_do_is_refused(
    ec_key: ec.EllipticCurvePrivateKey, own: str, asked: str, match: str
) -> None:
    with pytest.raises(UnsupportedKeyError, match=match):
        UrlSigner(KID, InMemoryHsm(ec_key, own), hash_algorithm=asked)


@pytest.mark.parametrize(
    ("algorithm", "hash_algorithm", "match"),
    [
        ("RSA-4096", "SHA256", "CloudFront key groups take RSA-2048 or ECDSA-P256"),
        ("ECDSA-P384", "SHA256", "algorithm is 'ECDSA-P384'"),
        ("RSA-2048", "SHA512", "hashes with 'SHA512'"),
        ("RSA-2048", "MD5", "SHA1 or SHA256 signatures"),
    ],
)
def test_pairings_cloudfront_cannot_take_are_refused(
    algorithm: str, hash_algorithm: str, match: str
) -> None:
    external = Fixed(b"")
    external.algorithm = algorithm  # type: ignore[misc]
    external.hash_algorithm = hash_algorithm  # type: ignore[misc]
    with pytest.raises(UnsupportedKeyError, match=match):
        UrlSigner(KID, external)


def test_arguments_that_do_not_apply_are_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(InvalidInputError, match="password= is for key files"):
        UrlSigner(KID, InMemoryHsm(ec_key), password="x")
    with pytest.raises(InvalidInputError, match="hash_algorithm must be"):
        UrlSigner(KID, InMemoryHsm(ec_key), hash_algorithm="SHA3")
    with pytest.raises(InvalidInputError, match="key_id"):
        UrlSigner("not a key id", InMemoryHsm(ec_key))


@pytest.mark.parametrize(
    ("result", "match"),
    [
        ("text", "a str, not bytes"),
        (b"\x01" * 64, "not a DER ECDSA signature"),  # a PKCS#11 raw r || s
        (b"", "0 bytes that are not a DER"),
    ],
)
def test_ecdsa_signatures_must_be_der(result: object, match: str) -> None:
    signer = UrlSigner(KID, Fixed(result))
    with pytest.raises(SigningError, match=match):
        signer.sign_url(BASE + "a.ts", expires=EXPIRES)


def test_raw_r_s_encoded_as_der_is_taken(ec_key: ec.EllipticCurvePrivateKey) -> None:
    class RawToken:
        algorithm = "ECDSA-P256"
        hash_algorithm = "SHA256"

        def sign(self, message: bytes) -> bytes:
            der = ec_key.sign(message, ec.ECDSA(hashes.SHA256()))
            r, s = utils.decode_dss_signature(der)  # what a token returns: r || s
            raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            return utils.encode_dss_signature(
                int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            )

    url = UrlSigner(KID, RawToken()).sign_url(BASE + "a.ts", expires=EXPIRES)
    assert UrlVerifier({KID: ec_key.public_key()}).verify_url(url, now=0)


def test_rsa_signatures_must_be_256_bytes(rsa_key: rsa.RSAPrivateKey) -> None:
    short = Fixed(b"\x00" * 128)
    short.algorithm = "RSA-2048"  # type: ignore[misc]
    with pytest.raises(SigningError, match="128 bytes; an RSA-2048 signature is 256"):
        UrlSigner(KID, short).sign_url(BASE + "a.ts", expires=EXPIRES)


def test_a_foreign_exception_becomes_a_signing_error_chained_to_it() -> None:
    cause = OSError("token removed")
    signer = UrlSigner(KID, Fixed(cause))
    with pytest.raises(SigningError, match="token removed") as info:
        signer.sign_url(BASE + "a.ts", expires=EXPIRES)
    assert info.value.__cause__ is cause
    assert type(info.value) is SigningError


@pytest.mark.parametrize(
    "error",
    [
        KmsThrottlingError("slow down", key_id="k", operation="Sign", code="ThrottlingException"),
        # a ValueError too (a KeyLoadError): it must not be re-wrapped as a SigningError
        KmsKeyNotFoundError("gone", key_id="k", operation="Sign", code="NotFoundException"),
    ],
)
def test_the_package_s_own_errors_keep_their_type(error: Exception) -> None:
    signer = UrlSigner(KID, Fixed(error))
    with pytest.raises(type(error)) as info:
        signer.sign_url(BASE + "a.ts", expires=EXPIRES)
    assert info.value is error
    with pytest.raises(type(error)):
        signer.sign(b"message")


def test_what_counts_as_an_external_signer(
    ec_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    assert is_external_signer(InMemoryHsm(ec_key))
    assert isinstance(InMemoryHsm(ec_key), ExternalSigner)
    for value in (ec_key, b"-----BEGIN", "key.pem", tmp_path / "key.pem", None, object()):
        assert not is_external_signer(value)


def test_an_object_that_is_no_key_and_no_signer_is_refused_as_before() -> None:
    with pytest.raises(InvalidInputError, match="private key must be"):
        UrlSigner(KID, object())  # type: ignore[arg-type]
