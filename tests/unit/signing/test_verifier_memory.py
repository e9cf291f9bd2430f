"""What a verifier (and a signer) keep in memory stays small, whatever it is sent.

An edge verifies what anyone sends it: a cache keyed by attacker-sized input is a way
to exhaust its memory. URLs over CloudFront's 8,192-byte limit (and cookies over the
20,480 bytes CloudFront takes for a request's URL and headers) are refused before any
work; every cache is bounded in bytes as well as entries; only signatures that verified
are remembered; ``cache_size=0`` keeps nothing. Growth is measured with tracemalloc and
each run stops at the first sign that a bound is broken, so a regression fails fast.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mediastore_ingest._internal.b64 import cf_b64encode
from mediastore_ingest.errors import MalformedSignatureError, VerificationError
from mediastore_ingest.signing.policy import CustomPolicy, normalize_url
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import SignedUrl, UrlVerifier

BASE = "https://d1.cloudfront.net"
URL = f"{BASE}/live/seg1.ts"
KID = "K2JCJMDEHXQW5F"
T = 2_000_000_000
NOW = T - 3600
MiB = 2**20


def _growth(step: Callable[[int], object], n: int, limit: int) -> int:
    """Run ``step(0..n-1)``; return how much traced memory grew (bytes), failing as soon
    as it passes ``limit`` (so a regression stops after a few megabytes, not a gigabyte)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            step(i)
            if i % 64 == 63:
                grown = tracemalloc.get_traced_memory()[0] - base
                assert grown < limit, f"grew {grown / MiB:.1f} MiB after {i + 1} of {n}"
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert grown < limit, f"grew {grown / MiB:.1f} MiB after {n}"
    return grown


def _refused(verify: Callable[[], object]) -> None:
    try:
        verify()
    except VerificationError:
        return
    raise AssertionError("a forged request verified")


@pytest.fixture(params=[1024, 0], ids=["default-cache", "cache_size=0"])
def verifier(request, rsa_key) -> UrlVerifier:  # type: ignore[no-untyped-def]
    return UrlVerifier({KID: rsa_key.public_key()}, clock=lambda: NOW, cache_size=request.param)


# -- the two measurements ---------------------------------------------------------------


def test_4096_rejected_100_kb_urls_do_not_grow_the_process(verifier: UrlVerifier) -> None:
    pad = "x" * 100_000

    def step(i: int) -> None:
        url = f"{URL}?pad={pad}{i}&Expires={T}&Signature=AAAA&Key-Pair-Id={KID}"
        _refused(lambda: verifier.verify_url(url))

    _growth(step, 4096, 50 * MiB)


def test_1024_forged_1_mb_policies_do_not_grow_the_process(verifier: UrlVerifier) -> None:
    body = b'{"Statement":[{"Resource":"' + b"a" * 750_000

    def step(i: int) -> None:
        policy = cf_b64encode(body + str(i).encode() + b'"}]}')
        in_url = f"{URL}?Policy={policy}&Signature=AAAA&Key-Pair-Id={KID}"
        _refused(lambda: verifier.verify_url(in_url))
        cookies = {"CloudFront-Policy": policy, "CloudFront-Signature": "AAAA",
                   "CloudFront-Key-Pair-Id": KID}
        _refused(lambda: verifier.verify_cookies(URL, cookies))

    _growth(step, 1024, 50 * MiB)


# -- refused before any work -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"{URL}?pad={'x' * 8192}&Expires={T}&Signature=AAAA&Key-Pair-Id={KID}",
        # A different fault too: the size is what is reported, as it is checked first.
        f"ftp://h/{'x' * 9000}?Expires=1&Expires=2",
        # 4,100 characters but 8,200 bytes of UTF-8.
        f"{BASE}/{'é' * 4100}?Expires={T}&Signature=AAAA&Key-Pair-Id={KID}",
    ],
    ids=["long", "long-and-malformed", "non-ascii"],
)
def test_a_url_over_8192_bytes_is_refused_first(verifier: UrlVerifier, url: str) -> None:
    with pytest.raises(MalformedSignatureError, match="8,192") as info:
        verifier.verify_url(url)
    # The error does not hold the input either.
    assert info.value.url is None or len(info.value.url) <= 200
    assert len(str(info.value)) <= 300


def test_cookies_over_20480_bytes_are_refused_first(verifier: UrlVerifier) -> None:
    policy = "A" * 20_480
    header = f"CloudFront-Policy={policy}; CloudFront-Signature=AAAA; CloudFront-Key-Pair-Id={KID}"
    for cookies in (header, {"CloudFront-Policy": policy, "CloudFront-Signature": "AAAA",
                             "CloudFront-Key-Pair-Id": KID}):
        with pytest.raises(MalformedSignatureError, match="20,480"):
            verifier.verify_cookies(URL, cookies)
    with pytest.raises(MalformedSignatureError, match="8,192"):
        verifier.verify_cookies(URL + "?" + "x" * 8192, {})
    with pytest.raises(MalformedSignatureError, match="20,480"):
        verifier.verify(SignedUrl(URL, "AAAA", KID, policy=policy))


# -- what the caches keep ----------------------------------------------------------------------


class _CountingKey(ec.EllipticCurvePublicKey):
    """A public key that counts its verify() calls."""

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        self._key = key
        self.verifies = 0

    def verify(self, signature, data, signature_algorithm) -> None:  # type: ignore[no-untyped-def]
        self.verifies += 1
        self._key.verify(signature, data, signature_algorithm)

    curve = property(lambda self: self._key.curve)
    key_size = property(lambda self: self._key.key_size)

    def public_numbers(self):  # type: ignore[no-untyped-def]
        return self._key.public_numbers()

    def public_bytes(self, encoding, format):  # type: ignore[no-untyped-def]
        return self._key.public_bytes(encoding, format)

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)

    def __copy__(self):  # type: ignore[no-untyped-def]
        return self

    def __deepcopy__(self, memo):  # type: ignore[no-untyped-def]
        return self


def test_only_signatures_that_verified_are_remembered(ec_key) -> None:  # type: ignore[no-untyped-def]
    key = _CountingKey(ec_key.public_key())
    verifier = UrlVerifier({KID: key}, clock=lambda: NOW)
    signer = UrlSigner(KID, ec_key, clock=lambda: NOW)
    policy = CustomPolicy(f"{BASE}/live/*", T)
    good = signer.sign_url(URL, policy=policy)
    for _ in range(3):
        assert verifier.verify_url(good) == policy
    assert key.verifies == 1  # verified once, then remembered
    # A real signature, of another policy: it decodes, and the key says no.
    other = SignedUrl.parse(signer.sign_url(URL, policy=CustomPolicy(f"{BASE}/*", T)))
    forged = good.replace(SignedUrl.parse(good).signature, other.signature)
    for _ in range(3):
        _refused(lambda: verifier.verify_url(forged))
    assert key.verifies == 4  # a failure is checked again each time: nothing kept


def test_cache_size_zero_keeps_nothing(ec_key) -> None:  # type: ignore[no-untyped-def]
    signer = UrlSigner("KECKEY", ec_key, clock=lambda: NOW, cache_size=0)
    verifier = UrlVerifier({"KECKEY": ec_key.public_key()}, clock=lambda: NOW, cache_size=0)
    pad = "p" * 1000
    # URLs with their own query (and a space): the path that a URL cache would take.
    urls = [signer.sign_url(f"{BASE}/live/seg {i}.ts?pad={pad}", expires=T) for i in range(2000)]
    verifier.verify_url(urls[0])  # one-time allocations (compiled regexes, ...)
    _growth(lambda i: verifier.verify_url(urls[i]), 2000, MiB)


def test_a_verifier_cache_is_bounded_in_bytes(ec_key) -> None:  # type: ignore[no-untyped-def]
    signer = UrlSigner("KECKEY", ec_key, clock=lambda: NOW, cache_size=0)
    verifier = UrlVerifier({"KECKEY": ec_key.public_key()}, clock=lambda: NOW,
                           cache_size=1_000_000)
    long = "a" * 2500  # a signed URL of about 6 KB: under CloudFront's limit
    urls = [signer.sign_url(f"{BASE}/{long}/{i}.ts", policy=CustomPolicy(f"{BASE}/{long}/{i}*", T))
            for i in range(3000)]
    verifier.verify_url(urls[0])
    _growth(lambda i: verifier.verify_url(urls[i]), 3000, 8 * MiB)


def test_a_signer_cache_is_bounded_in_bytes(ec_key) -> None:  # type: ignore[no-untyped-def]
    signer = UrlSigner("KECKEY", ec_key, clock=lambda: NOW, cache_size=1_000_000)
    long = "a" * 4000
    policies = [CustomPolicy(f"{BASE}/{long}/{i}*", T) for i in range(1500)]
    signer.sign_cookies(policies[0])
    _growth(lambda i: signer.sign_cookies(policies[i]), 1500, 4 * MiB)


def test_the_url_normalisation_cache_is_bounded_in_bytes() -> None:
    pad = "b" * 3000
    normalize_url(f"{BASE}/a?x=0")
    _growth(lambda i: normalize_url(f"{BASE}/{i}/a b?pad={pad}"), 3000, 4 * MiB)


def test_a_rsa_verifier_still_verifies_after_all_that(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = UrlSigner(KID, rsa_key, clock=lambda: NOW)
    verifier = UrlVerifier({KID: rsa_key.public_key()}, clock=lambda: NOW, cache_size=0)
    assert verifier.verify_url(signer.sign_url(URL, expires=T)).expires == T
