"""RSA PKCS#1 v1.5 verification: UrlVerifier must accept exactly what
``cryptography``'s ``RSAPublicKey.verify`` accepts (RFC 8017 section 8.2.2).

Signatures are forged with the raw private-key operation over hand-made encoded
messages (EM), so every way an EM can be wrong is tried: a missing NULL parameter,
the other hash's DigestInfo, bytes after the digest, short or broken padding, the
wrong block type, signatures one byte short or long, a value not below the modulus.
Each verdict is compared with ``verify()`` on the same bytes, for every RSA size the
verifier accepts (1024, 2048, 4096), with its verification cache off and on.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import NamedTuple

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediastore_ingest._internal.b64 import cf_b64encode
from mediastore_ingest.errors import KeySizeWarning, SignatureMismatchError
from mediastore_ingest.signing.policy import CannedPolicy
from mediastore_ingest.signing.verifier import UrlVerifier

URL = "https://d111111abcdef8.cloudfront.net/live/seg1.ts"
EXPIRES = 1767225600
KID = "K2JCJMDEHXQW5F"
MESSAGE = CannedPolicy(URL, EXPIRES).to_json().encode()
# DER DigestInfo prefixes (RFC 8017 section 9.2, note 1).
PREFIX = {
    "SHA1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "SHA256": bytes.fromhex("3031300d060960864801650304020105000420"),
}
PREFIX_NO_NULL = {
    "SHA1": bytes.fromhex("301f300706052b0e03021a0414"),
    "SHA256": bytes.fromhex("302f300b06096086480165030402010420"),
}
HASHES = {"SHA1": hashes.SHA1(), "SHA256": hashes.SHA256()}


def digest(hash_name: str, message: bytes = MESSAGE) -> bytes:
    return hashlib.new(hash_name.lower(), message).digest()


def encoded(k: int, t: bytes, *, block_type: int = 1, fill: int = 0xFF) -> bytes:
    """0x00 || block_type || fill... || 0x00 || t, k bytes long."""
    return bytes([0, block_type]) + bytes([fill]) * (k - 3 - len(t)) + b"\x00" + t


class Forger:
    """The raw RSA private-key operation, to sign any k-byte string."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.numbers = key.private_numbers()
        self.n = self.numbers.public_numbers.n
        self.k = (self.n.bit_length() + 7) // 8

    def sign(self, em: bytes) -> bytes:
        # m^d mod n by the Chinese remainder theorem (4x quicker for 4096-bit keys).
        c, x = int.from_bytes(em, "big"), self.numbers
        m1, m2 = pow(c, x.dmp1, x.p), pow(c, x.dmq1, x.q)
        m = m2 + (x.iqmp * (m1 - m2) % x.p) * x.q
        return m.to_bytes(self.k, "big")


@pytest.fixture(scope="module", params=[2048, 1024, 4096], ids=lambda bits: f"RSA-{bits}")
def rsa_key(request: pytest.FixtureRequest) -> rsa.RSAPrivateKey:
    """Every RSA size the verifier accepts (1024 and 4096 with a KeySizeWarning)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=request.param)


@pytest.fixture(scope="module")
def forger(rsa_key: rsa.RSAPrivateKey) -> Forger:
    return Forger(rsa_key)


@pytest.fixture(scope="module")
def verifier(rsa_key: rsa.RSAPrivateKey) -> Verifiers:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KeySizeWarning)
        return Verifiers(
            UrlVerifier({KID: rsa_key.public_key()}, cache_size=0),
            UrlVerifier({KID: rsa_key.public_key()}, cache_size=64),
        )


class Verifiers(NamedTuple):
    """The same key group without and with the verification cache."""

    uncached: UrlVerifier
    cached: UrlVerifier


def verdicts(
    rsa_key: rsa.RSAPrivateKey,
    verifier: Verifiers,
    signature: bytes,
    hash_name: str,
    expires: int = EXPIRES,
) -> tuple[bool, bool]:
    """(cryptography's verify() accepts, UrlVerifier accepts) for one signature
    over the canned policy for URL and ``expires``; the verifier with its cache must
    agree with the one without, asked twice (the second answer from the cache)."""
    message = CannedPolicy(URL, expires).to_json().encode()
    try:
        rsa_key.public_key().verify(signature, message, padding.PKCS1v15(), HASHES[hash_name])
        reference = True
    except InvalidSignature:
        reference = False
    signed = f"{URL}?Expires={expires}&Signature={cf_b64encode(signature)}&Key-Pair-Id={KID}"
    if hash_name != "SHA1":
        signed += f"&Hash-Algorithm={hash_name}"
    answers = []
    for one in (verifier.uncached, verifier.cached, verifier.cached):
        try:
            one.verify_url(signed, now=expires - 1)
            answers.append(True)
        except SignatureMismatchError:
            answers.append(False)
    assert len(set(answers)) == 1, answers
    return reference, answers[0]


def short_by_one(rsa_key: rsa.RSAPrivateKey, hash_name: str) -> tuple[bytes, int]:
    """A genuine signature (and its canned policy's expiry) whose first byte is
    zero, with that byte removed: RSAVP1 alone would still accept it."""
    for expires in range(EXPIRES, EXPIRES + 10_000):
        message = CannedPolicy(URL, expires).to_json().encode()
        signature = rsa_key.sign(message, padding.PKCS1v15(), HASHES[hash_name])
        if signature[0] == 0:
            return signature[1:], expires
    raise AssertionError("no signature with a leading zero byte found")  # pragma: no cover


@pytest.mark.parametrize("hash_name", ["SHA1", "SHA256"])
@pytest.mark.parametrize(
    "case",
    [
        "genuine",
        "no-null-parameter",
        "other-hash-digestinfo",
        "trailing-byte",
        "digest-flipped",
        "block-type-2",
        "block-type-0",
        "padding-byte-not-ff",
        "padding-too-short",
        "no-separator",
        "leading-byte-not-zero",
        "signature-one-byte-short",
        "signature-one-byte-long",
        "signature-not-below-modulus",
        "signature-zero",
    ],
)
def test_same_verdict_as_cryptography(rsa_key, forger, verifier, hash_name, case):
    k = forger.k
    expires = EXPIRES
    t = PREFIX[hash_name] + digest(hash_name)
    other = "SHA256" if hash_name == "SHA1" else "SHA1"
    if case == "genuine":
        signature = forger.sign(encoded(k, t))
    elif case == "no-null-parameter":
        signature = forger.sign(encoded(k, PREFIX_NO_NULL[hash_name] + digest(hash_name)))
    elif case == "other-hash-digestinfo":
        signature = forger.sign(encoded(k, PREFIX[other] + digest(other)))
    elif case == "trailing-byte":
        signature = forger.sign(encoded(k, t + b"\x00"))
    elif case == "digest-flipped":
        signature = forger.sign(encoded(k, t[:-1] + bytes([t[-1] ^ 1])))
    elif case == "block-type-2":
        signature = forger.sign(encoded(k, t, block_type=2))
    elif case == "block-type-0":
        signature = forger.sign(encoded(k, t, block_type=0, fill=0))
    elif case == "padding-byte-not-ff":
        em = bytearray(encoded(k, t))
        em[5] = 0xFE
        signature = forger.sign(bytes(em))
    elif case == "padding-too-short":
        # Seven 0xFF bytes, then the separator: the digest info is padded in front.
        filler = b"\x00" * (k - 3 - 7 - len(t))
        em = b"\x00\x01" + b"\xff" * 7 + b"\x00" + filler + t
        signature = forger.sign(em)
    elif case == "no-separator":
        signature = forger.sign(b"\x00\x01" + b"\xff" * (k - 2 - len(t)) + t)
    elif case == "leading-byte-not-zero":
        signature = forger.sign(b"\x01" + encoded(k, t)[1:])
    elif case == "signature-one-byte-short":
        signature, expires = short_by_one(rsa_key, hash_name)
    elif case == "signature-one-byte-long":
        signature = b"\x00" + forger.sign(encoded(k, t))
    elif case == "signature-not-below-modulus":
        s = int.from_bytes(forger.sign(encoded(k, t)), "big") + forger.n
        signature = s.to_bytes(k, "big") if s.bit_length() <= 8 * k else b"\xff" * k
    else:
        assert case == "signature-zero"
        signature = b"\x00" * k
    reference, ours = verdicts(rsa_key, verifier, signature, hash_name, expires)
    assert ours is reference
    assert reference is (case == "genuine")


@settings(max_examples=100, deadline=None,  # RSA-4096 on a busy machine takes longer
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hash_name=st.sampled_from(["SHA1", "SHA256"]),
    edits=st.lists(st.tuples(st.integers(0, 511), st.integers(0, 255)), min_size=1, max_size=3),
)
def test_any_edited_encoding_gets_the_same_verdict(rsa_key, forger, verifier, hash_name, edits):
    """Overwrite up to three bytes of a genuine EM anywhere, sign it raw, compare."""
    k = forger.k
    em = bytearray(encoded(k, PREFIX[hash_name] + digest(hash_name)))
    for position, value in edits:  # k is at most 512: every byte can be reached
        em[position % k] = value
    if int.from_bytes(em, "big") >= forger.n:
        em[0] = 0
    reference, ours = verdicts(rsa_key, verifier, forger.sign(bytes(em)), hash_name)
    assert ours is reference
