"""The verifier checks each signature with the key's own ``verify()``; signer and
verifier share their checks of key ids and clocks; custom policies are read strictly."""

from __future__ import annotations

import copy

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

import mediastore_ingest.signing as signing
from mediastore_ingest.errors import (
    InvalidInputError,
    PolicyParseError,
    SignatureMismatchError,
)
from mediastore_ingest.signing.keys import check_key_id
from mediastore_ingest.signing.policy import CannedPolicy, CustomPolicy, clock_epoch
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import SignedUrl, UrlVerifier, parse_cookie_header

URL = "https://d111111abcdef8.cloudfront.net/live/seg1.ts"
T = 1767225600
KID = "K2JCJMDEHXQW5F"


class SpyRsaKey(rsa.RSAPublicKey):
    """A public key that records how it is asked, delegating to a real one."""

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        self._key = key
        self.calls: list[tuple[type, type]] = []

    def verify(self, signature, data, padding, algorithm):  # type: ignore[no-untyped-def]
        self.calls.append((type(padding), type(algorithm)))
        return self._key.verify(signature, data, padding, algorithm)

    def recover_data_from_signature(self, *args):  # type: ignore[no-untyped-def]
        raise AssertionError("the verifier must not compare a recovered digest itself")

    @property
    def key_size(self) -> int:
        return self._key.key_size

    def encrypt(self, *args):  # type: ignore[no-untyped-def]
        return self._key.encrypt(*args)

    def public_bytes(self, *args):  # type: ignore[no-untyped-def]
        return self._key.public_bytes(*args)

    def public_numbers(self):  # type: ignore[no-untyped-def]
        return self._key.public_numbers()

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)

    def __copy__(self) -> SpyRsaKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SpyRsaKey:
        return self


@pytest.mark.parametrize(
    ("hash_name", "hash_type"), [("SHA1", hashes.SHA1), ("SHA256", hashes.SHA256)]
)
@pytest.mark.parametrize("cache_size", [0, 16])
def test_rsa_signatures_are_checked_by_verify(rsa_key, hash_name, hash_type, cache_size):
    spy = SpyRsaKey(rsa_key.public_key())
    verifier = UrlVerifier({KID: spy}, cache_size=cache_size)
    signer = UrlSigner(KID, rsa_key, hash_algorithm=hash_name, clock=lambda: T - 3600)
    canned = signer.sign_url(URL, expires=T)
    custom = signer.sign_url(URL, policy=CustomPolicy(URL.rsplit("/", 1)[0] + "/*", T))
    assert verifier.verify_url(canned, now=T - 1) == CannedPolicy(URL, T)
    assert isinstance(verifier.verify_url(custom, now=T - 1), CustomPolicy)
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(canned.replace("seg1", "seg2"), now=T - 1)
    assert spy.calls == [(padding.PKCS1v15, hash_type)] * 3


def test_a_spy_key_is_a_key_the_verifier_takes(rsa_key):
    spy = SpyRsaKey(rsa_key.public_key())
    assert copy.copy(spy) is spy
    assert repr(UrlVerifier({KID: spy})) == f"UrlVerifier(key_ids=[{KID!r}])"


def test_ecdsa_signatures_are_checked_by_verify(ec_key):
    verifier = UrlVerifier({"KECKEY": ec_key.public_key()}, cache_size=0)
    signed = UrlSigner("KECKEY", ec_key, hash_algorithm="SHA256").sign_url(
        URL, expires=T, now=T - 3600
    )
    assert verifier.verify_url(signed, now=0) == CannedPolicy(URL, T)
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(signed.replace("Signature=", "Signature=A"), now=0)
    other = ec.generate_private_key(ec.SECP256R1())
    forged = UrlSigner("KECKEY", other, hash_algorithm="SHA256").sign_url(
        URL, expires=T, now=T - 3600
    )
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(forged, now=0)


def test_the_package_still_offers_every_name():
    assert signing.UrlVerifier is UrlVerifier
    assert signing.SignedUrl is SignedUrl
    assert signing.parse_cookie_header is parse_cookie_header
    assert UrlVerifier.__module__ == "mediastore_ingest.signing.verifier"
    assert UrlSigner.__module__ == "mediastore_ingest.signing.signer"


@pytest.mark.parametrize("key_id", ["", "K2J-CJM", "K2J CJM", None, 5, "ключ"])
def test_key_ids_are_checked_once_for_signer_and_verifier(rsa_key, key_id):
    with pytest.raises(InvalidInputError, match="CloudFront public key ID"):
        check_key_id(key_id)
    with pytest.raises(InvalidInputError, match="CloudFront public key ID"):
        UrlSigner(key_id, rsa_key)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="CloudFront public key ID"):
        UrlVerifier({key_id: rsa_key.public_key()})  # type: ignore[dict-item]


@pytest.mark.parametrize("value", [None, "soon", float("nan"), float("inf")])
def test_a_clock_that_gives_no_time_is_a_typed_error(value):
    with pytest.raises(InvalidInputError, match="clock returned"):
        clock_epoch(lambda: value)


def test_clock_epoch_drops_the_fraction():
    assert clock_epoch(lambda: 1767225600.9) == 1767225600


@pytest.mark.parametrize("bad", [5, "x", -1, True, 1.5])
def test_cache_size_and_clock_are_checked(rsa_key, bad):
    with pytest.raises(InvalidInputError, match="cache_size"):
        UrlVerifier({KID: rsa_key.public_key()}, cache_size=bad if bad != 5 else -5)
    with pytest.raises(InvalidInputError, match="clock"):
        UrlSigner(KID, rsa_key, clock=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"Statement":[{"Resource":"https://a/*","Condition":{"DateLessThan":'
         '{"AWS:EpochTime":NaN}}}]}', "NaN"),
        ("[" * 100 + "]" * 100, "nested too deeply"),
        (b"\xff\xfe", "not UTF-8"),
        ("{", "not valid JSON"),
        (3, "must be JSON text"),
        (None, "must be JSON text"),
    ],
)
def test_custom_policies_are_read_strictly(text, match):
    with pytest.raises(PolicyParseError, match=match):
        CustomPolicy.from_json(text)


def test_a_custom_policy_reads_back_from_bytes():
    policy = CustomPolicy("https://d111111abcdef8.cloudfront.net/live/*", T, source_ip="192.0.2.7")
    assert CustomPolicy.from_json(policy.to_json().encode()) == policy
    assert CustomPolicy.from_json(bytearray(policy.to_json().encode())) == policy
