"""Signed URLs and cookies: known answers, botocore conformance, round trips, tampering."""

from __future__ import annotations

import datetime as dt
import functools
import warnings

import pytest
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediastore_ingest._internal.b64 import cf_b64decode, cf_b64encode
from mediastore_ingest.errors import (
    InvalidInputError,
    MalformedSignatureError,
    MediaStoreIngestError,
    PolicyError,
    PolicyExpiredError,
    PolicyNotYetValidError,
    ResourceMismatchError,
    SignatureMismatchError,
    SourceIpMismatchError,
    UnknownKeyIdError,
    VerificationError,
)
from mediastore_ingest.signing.policy import CannedPolicy, CustomPolicy
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import (
    SignedUrl,
    UrlVerifier,
    _signing_fields,
    _split_signed_url,
    parse_cookie_header,
)

URL = "https://d111111abcdef8.cloudfront.net/live/seg1.ts"
T = 1767225600
KID = "K2JCJMDEHXQW5F"


def _before_t() -> float:
    """The signers' clock: an hour before T, the expiry most tests sign (a signer
    refuses an expiry that has passed)."""
    return T - 3600.0

# Produced with the OpenSSL command line (see tests/vectors/README.md).
KAT_CANNED_SHA1 = (
    "AkszkAzCMmhyF36mrA0i7Fn5fD5GhzVgsq9sEHDI0B1BV0alyz3s4upDnVOciBJKMhdrJda0ka93~0owHKDph4Yg"
    "q1y-D1x8cBkRqdaOm5zvtUh9ZEeyjB7Ktd2PpZT1rQjSxeALvz8-oHH06VvsB~IbQJJqkPIWM5XMNjSIfLg_"
)
KAT_CANNED_SHA256 = (
    "tYLvxBahAvL4Rf9m8tV-WsG0QJYaypvhzCrSK6inZ~-TJ86VRrOEEojcPjkt71Ts09zzqyEPjw-zrYO7j9trxcym"
    "OFg-DVJgbLYLzCriYd505RblPBfPTzR9wy09JFhBjWLPd1SyaedLDEWgzySWRPxMLuh3RQhHEpLOMJzYNw4_"
)
KAT_CUSTOM_POLICY_B64 = (
    "eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9kMTExMTExYWJjZGVmOC5jbG91ZGZyb250Lm5ldC9s"
    "aXZlLyoiLCJDb25kaXRpb24iOnsiRGF0ZUxlc3NUaGFuIjp7IkFXUzpFcG9jaFRpbWUiOjE3NjcyMjU2MDB9LCJJ"
    "cEFkZHJlc3MiOnsiQVdTOlNvdXJjZUlwIjoiMTkyLjAuMi4wLzI0In0sIkRhdGVHcmVhdGVyVGhhbiI6eyJBV1M6"
    "RXBvY2hUaW1lIjoxNzY3MTM5MjAwfX19XX0_"
)
KAT_CUSTOM_SHA1 = (
    "ri16DwSheDdVpMfyyf05dUjJWRMbyEvj8x2i4-k3QQc2SR5Wu1E6Pkolvdf1jYKRBs6Rg6XSnHC63LKt-O0iueUp"
    "yp8nCUh64vV-6B0dnAzg~U-e-d9jt5hth7lCQ6RhHwwhqWyrQf~dOTPt1oZaelqfaDMgRHC~xQgsuydCAgA_"
)


@pytest.fixture(scope="module")
def ruby_key(ruby_key_pem):
    return serialization.load_pem_private_key(ruby_key_pem, password=None)


@pytest.fixture(scope="module")
def ruby_signer(ruby_key):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RSA-1024 is legacy-only; the warning is tested elsewhere
        return UrlSigner(KID, ruby_key, hash_algorithm="SHA1", clock=_before_t)


@pytest.fixture(scope="module")
def rsa_signer(rsa_key):
    return UrlSigner(KID, rsa_key, hash_algorithm="SHA1", clock=_before_t)


@pytest.fixture(scope="module")
def verifier(rsa_key, ec_key):
    return UrlVerifier({KID: rsa_key.public_key(), "KECKEY": ec_key.public_key()})


# -- known answers ----------------------------------------------------------------------------


def test_kat_canned_sha1(ruby_signer):
    assert ruby_signer.sign_url(URL, expires=T) == (
        f"{URL}?Expires={T}&Signature={KAT_CANNED_SHA1}&Key-Pair-Id={KID}"
    )


def test_kat_canned_sha256(ruby_key):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signer = UrlSigner(KID, ruby_key, hash_algorithm="SHA256", clock=_before_t)
    assert signer.sign_url(URL, expires=T) == (
        f"{URL}?Expires={T}&Signature={KAT_CANNED_SHA256}&Key-Pair-Id={KID}&Hash-Algorithm=SHA256"
    )


def test_kat_custom_sha1(ruby_signer):
    policy = CustomPolicy(
        "https://d111111abcdef8.cloudfront.net/live/*", T, not_before=T - 86400,
        source_ip="192.0.2.0/24",
    )
    assert ruby_signer.sign_url(URL, policy=policy) == (
        f"{URL}?Policy={KAT_CUSTOM_POLICY_B64}&Signature={KAT_CUSTOM_SHA1}&Key-Pair-Id={KID}"
    )


def test_kat_cookies(ruby_signer):
    policy = CustomPolicy(
        "https://d111111abcdef8.cloudfront.net/live/*", T, not_before=T - 86400,
        source_ip="192.0.2.0/24",
    )
    assert ruby_signer.sign_cookies(policy) == {
        "CloudFront-Policy": KAT_CUSTOM_POLICY_B64,
        "CloudFront-Signature": KAT_CUSTOM_SHA1,
        "CloudFront-Key-Pair-Id": KID,
    }
    assert ruby_signer.sign_cookies(CannedPolicy(URL, T)) == {
        "CloudFront-Expires": str(T),
        "CloudFront-Signature": KAT_CANNED_SHA1,
        "CloudFront-Key-Pair-Id": KID,
    }


# -- conformance with botocore where botocore is right ---------------------------------------


def _botocore_signer(key):
    return CloudFrontSigner(KID, lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA1()))


@pytest.mark.parametrize(
    "url",
    [
        URL,
        "https://d1.cloudfront.net/live/index.m3u8?channel=1&bitrate=2000",
        "http://d1.cloudfront.net/a/b/c/d.m4s",
    ],
)
def test_canned_equals_botocore(rsa_key, rsa_signer, url):
    when = dt.datetime.fromtimestamp(T, tz=dt.timezone.utc)
    assert rsa_signer.sign_url(url, expires=when) == _botocore_signer(rsa_key).generate_presigned_url(
        url, date_less_than=when
    )


def test_custom_equals_botocore(rsa_key, rsa_signer):
    when = dt.datetime.fromtimestamp(T, tz=dt.timezone.utc)
    start = dt.datetime.fromtimestamp(T - 3600, tz=dt.timezone.utc)
    bc = _botocore_signer(rsa_key)
    text = bc.build_policy("https://d1.cloudfront.net/live/*", when, start, "192.0.2.7")
    ours = CustomPolicy("https://d1.cloudfront.net/live/*", when, not_before=start, source_ip="192.0.2.7")
    assert ours.to_json() == text
    url = "https://d1.cloudfront.net/live/seg9.ts"
    assert rsa_signer.sign_url(url, policy=ours) == bc.generate_presigned_url(url, policy=text)


def test_non_ascii_where_botocore_is_wrong(rsa_signer, verifier):
    # botocore signs the raw text (and escapes it as \\u in JSON); CloudFront sees the
    # percent-encoded URL. We sign and send the percent-encoded form, so it verifies.
    signed = rsa_signer.sign_url("https://d1.cloudfront.net/live/é 1.ts", expires=T)
    assert signed.startswith("https://d1.cloudfront.net/live/%C3%A9%201.ts?Expires=")
    assert verifier.verify_url(signed, now=T - 1).resource.endswith("%C3%A9%201.ts")


# -- round trips and the verifier ----------------------------------------------------------


@pytest.mark.parametrize("hash_algorithm", ["SHA1", "SHA256"])
@pytest.mark.parametrize("which", ["rsa", "ec"])
def test_round_trip_every_algorithm(rsa_key, ec_key, verifier, hash_algorithm, which):
    key, kid = (rsa_key, KID) if which == "rsa" else (ec_key, "KECKEY")
    signer = UrlSigner(kid, key, hash_algorithm=hash_algorithm, clock=_before_t)
    canned = signer.sign_url(URL, expires=T)
    assert verifier.verify_url(canned, now=T - 1) == CannedPolicy(URL, T)
    custom = CustomPolicy("https://d111111abcdef8.cloudfront.net/*", T)
    assert verifier.verify_url(signer.sign_url(URL, policy=custom), now=T - 1) == custom
    cookies = signer.sign_cookies(custom)
    assert verifier.verify_cookies(URL, cookies, now=T - 1) == custom
    assert verifier.verify_cookies(URL, signer.cookie_header(custom), now=T - 1) == custom
    if hash_algorithm == "SHA256":
        assert cookies["CloudFront-Hash-Algorithm"] == "SHA256"
        assert canned.endswith("&Hash-Algorithm=SHA256")
    else:
        assert "CloudFront-Hash-Algorithm" not in cookies
        assert "Hash-Algorithm" not in canned


def test_ecdsa_signature_is_der_p256(ec_key):
    signer = UrlSigner("KECKEY", ec_key, hash_algorithm="SHA256", clock=_before_t)
    signed = SignedUrl.parse(signer.sign_url(URL, expires=T))
    raw = cf_b64decode(signed.signature)
    ec_key.public_key().verify(raw, CannedPolicy(URL, T).to_json().encode(), ec.ECDSA(hashes.SHA256()))


def test_url_with_query_keeps_it(rsa_signer, verifier):
    signed = rsa_signer.sign_url("https://d1.cloudfront.net/a.m3u8?x=1", expires=T)
    assert signed.startswith("https://d1.cloudfront.net/a.m3u8?x=1&Expires=")
    assert verifier.verify_url(signed, now=0).resource == "https://d1.cloudfront.net/a.m3u8?x=1"


def test_relative_expiry_uses_the_clock(rsa_key):
    signer = UrlSigner(KID, rsa_key, clock=lambda: T - 600.7)
    assert "Expires=" + str(T - 601 + 60) in signer.sign_url(URL, expires=dt.timedelta(minutes=1))
    assert "Expires=" + str(T + 60) in signer.sign_url(URL, expires=dt.timedelta(minutes=1), now=T)


def test_verifier_failures(rsa_signer, verifier, ec_key):
    signed = rsa_signer.sign_url(URL, expires=T)
    with pytest.raises(PolicyExpiredError):
        verifier.verify_url(signed, now=T)
    policy = CustomPolicy("https://d111111abcdef8.cloudfront.net/live/*", T, not_before=T - 100,
                          source_ip="192.0.2.0/24")
    custom = rsa_signer.sign_url(URL, policy=policy)
    with pytest.raises(PolicyNotYetValidError):
        verifier.verify_url(custom, now=T - 101, client_ip="192.0.2.1")
    with pytest.raises(SourceIpMismatchError):
        verifier.verify_url(custom, now=T - 1, client_ip="198.51.100.1")
    assert verifier.verify_url(custom, now=T - 1, client_ip="192.0.2.1") == policy
    # the signature is valid for the policy, but the policy does not cover another path
    moved = custom.replace("/live/seg1.ts", "/vod/seg1.ts")
    with pytest.raises(ResourceMismatchError):
        verifier.verify_url(moved, now=T - 1, client_ip="192.0.2.1")
    with pytest.raises(UnknownKeyIdError):
        verifier.verify_url(signed.replace(KID, "KUNKNOWN"), now=0)
    other = UrlSigner("KECKEY", ec_key, clock=_before_t).sign_url(URL, expires=T).replace("KECKEY", KID)
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(other, now=0)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda u: u + "&Expires=1",
        lambda u: u.replace("&Signature=", "&Signature=A"),
        lambda u: u.replace("&Key-Pair-Id=" + KID, ""),
        lambda u: u.replace("Expires=", "Policy="),
        lambda u: u.replace("Signature=", "Signature=%%%"),
        lambda u: u + "&Hash-Algorithm=MD5",
        lambda u: u.split("?")[0],
    ],
)
def test_malformed(rsa_signer, verifier, mutate):
    with pytest.raises(VerificationError):
        verifier.verify_url(mutate(rsa_signer.sign_url(URL, expires=T)), now=0)


@pytest.mark.parametrize(
    ("url", "expires", "message"),
    [
        (URL, "1767225600", "int epoch"),
        (URL, -1, "before 1970"),
        (URL, True, "not bool"),
        (URL, 2**40, "milliseconds"),
        ("https://d111111abcdef8.cloudfront.net/live/*.ts", T, "contains '\\*'"),
    ],
)
def test_hand_made_signed_url_with_a_bad_canned_policy_is_malformed(
    verifier, url, expires, message
):
    signed = SignedUrl(url, "AAAA", KID, expires=expires)
    with pytest.raises(MalformedSignatureError, match=message):
        verifier.verify(signed, now=0)


@pytest.mark.parametrize("bad", [None, "https://x/?Expires=1", {"url": URL}])
def test_verify_wants_a_signed_url(verifier, bad):
    with pytest.raises(InvalidInputError, match="must be a SignedUrl"):
        verifier.verify(bad, now=0)
    with pytest.raises(InvalidInputError, match=r"SignedUrl\.url must be a str"):
        verifier.verify(SignedUrl(b"https://x/", "AAAA", KID, expires=T), now=0)


def test_duplicate_signing_param_is_malformed(rsa_signer, verifier):
    with pytest.raises(MalformedSignatureError, match="twice"):
        verifier.verify_url(rsa_signer.sign_url(URL, expires=T) + f"&Key-Pair-Id={KID}", now=0)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), custom=st.booleans())
def test_tampering_any_byte_fails(rsa_signer, verifier, data, custom):
    policy = CustomPolicy("https://d111111abcdef8.cloudfront.net/live/*", T) if custom else None
    signed = (
        rsa_signer.sign_url(URL, policy=policy) if custom else rsa_signer.sign_url(URL, expires=T)
    )
    # A wildcard policy rightly covers other paths under it, so for custom policies only
    # the signing parameters are tampered with; for canned ones, any byte of the URL.
    start = signed.index("?") + 1 if custom else 0
    index = data.draw(st.integers(min_value=start, max_value=len(signed) - 1))
    replacement = data.draw(st.sampled_from("AZaz09-_~"))
    tampered = signed[:index] + replacement + signed[index + 1 :]
    if tampered == signed:
        return
    try:
        verifier.verify_url(tampered, now=T - 1)
    except (VerificationError, PolicyError):
        return
    # The only change that may pass is one CloudFront ignores too: the case of the host.
    assert index < len("https://d111111abcdef8.cloudfront.net")
    assert tampered.lower() == signed.lower()


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="#*?&="),
                 max_size=20),
    expires=st.integers(min_value=1, max_value=2_147_483_647),
    sha256=st.booleans(),
)
def test_sign_verify_property(rsa_key, verifier, path, expires, sha256):
    signer = UrlSigner(KID, rsa_key, hash_algorithm="SHA256" if sha256 else "SHA1")
    signed = signer.sign_url("https://d1.cloudfront.net/" + path, expires=expires,
                             now=expires - 1)
    assert verifier.verify_url(signed, now=expires - 1).expires == expires


# -- cache, cookies, reprs, input validation -----------------------------------------------------


def test_signature_cache_skips_the_private_key(rsa_key):
    calls = []

    class CountingSigner(UrlSigner):
        def sign(self, message):
            calls.append(message)
            return super().sign(message)

    signer = CountingSigner(KID, rsa_key, clock=_before_t)
    policy = CustomPolicy("https://d1.cloudfront.net/live/*", T)
    urls = {signer.sign_url(f"https://d1.cloudfront.net/live/seg{i}.ts", policy=policy) for i in range(50)}
    assert len(urls) == 50
    assert len(calls) == 1
    signer.sign_cookies(policy)
    assert len(calls) == 1


def test_set_cookie_headers(rsa_signer):
    policy = CustomPolicy("https://d1.cloudfront.net/live/*", T)
    headers = rsa_signer.set_cookie_headers(policy, domain="d1.cloudfront.net", path="/live/",
                                            same_site="None", max_age=3600)
    assert len(headers) == 3
    for header in headers:
        assert header.endswith("; Domain=d1.cloudfront.net; Path=/live/; Max-Age=3600; Secure; HttpOnly; SameSite=None")
    jar = parse_cookie_header("; ".join(h.split(";")[0] for h in headers))
    assert jar == rsa_signer.sign_cookies(policy)
    with pytest.raises(InvalidInputError):
        rsa_signer.set_cookie_headers(policy, domain="a;b")


def test_cookie_header_string(rsa_signer):
    header = rsa_signer.cookie_header(CannedPolicy(URL, T))
    assert header.startswith(f"CloudFront-Expires={T}; CloudFront-Signature=")
    assert header.endswith(f"; CloudFront-Key-Pair-Id={KID}")


def test_repr_hides_the_key(rsa_signer, rsa_key):
    text = repr(rsa_signer)
    assert text == f"UrlSigner(key_id='{KID}', algorithm='RSA-2048', hash_algorithm='SHA1')"
    pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    assert pem.splitlines()[1] not in text
    assert "Signature" not in repr(SignedUrl.parse(rsa_signer.sign_url(URL, expires=T)))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"key_id": "K 1"}, InvalidInputError),
        ({"key_id": ""}, InvalidInputError),
        ({"hash_algorithm": "MD5"}, InvalidInputError),
        ({"cache_size": -1}, InvalidInputError),
    ],
)
def test_signer_input_validation(rsa_key, kwargs, error):
    args = {"key_id": KID, "private_key": rsa_key, **kwargs}
    with pytest.raises(error):
        UrlSigner(**args)


def test_sign_url_needs_exactly_one_of_expires_or_policy(rsa_signer):
    with pytest.raises(InvalidInputError):
        rsa_signer.sign_url(URL)
    with pytest.raises(InvalidInputError):
        rsa_signer.sign_url(URL, expires=T, policy=CustomPolicy("https://d1.cloudfront.net/*", T))


def test_sign_url_refuses_urls_outside_the_policy(rsa_signer):
    with pytest.raises(PolicyError, match="not covered"):
        rsa_signer.sign_url("https://other.example/x", policy=CustomPolicy("https://d1.cloudfront.net/*", T))


def test_sign_url_refuses_wildcard_and_fragment(rsa_signer):
    with pytest.raises(PolicyError):
        rsa_signer.sign_url("https://d1.cloudfront.net/live/*", expires=T)
    with pytest.raises(PolicyError):
        rsa_signer.sign_url(URL + "#x", expires=T)


# -- the parser's shortcut for the layout every signer writes --------------------------------

# Values for the three canonical parameters: mostly good ones (so that a draw is often
# one odd value away from the canonical layout), and each way a value can be odd.
# "GOOD" stands for a real signature over the canned policy the request rebuilds.
_EXPIRES_VALUES = [str(T)] * 16 + [
    str(T - 5), "0", "017", "", "1.5", "१२", "1&x", "1%30", "2147483647", "2147483648",
    "99999999999",
]
_SIGNATURE_VALUES = ["GOOD"] * 16 + [
    *["GOOD%"] * 4, "BAD", "", "a%2Db", "a=b", "a&b", "a&Signature=b", "a?b", "AbC-_~",
]
_KEY_ID_VALUES = [KID] * 12 + ["KECKEY"] * 4 + [
    "", "K%41", "K=1", "K&x=1", "K&Hash-Algorithm=SHA256", "KOTHER", KID.lower(),
]
_OTHER_PIECES = ["Hash-Algorithm=SHA256", "Hash-Algorithm=SHA1", "Policy=eyJ9", "x=1", "",
                 "&", "%", "Signature"]
# Request URLs: in wire form, and each way one can need the normaliser or be refused.
_BASES = [URL] * 16 + [
    "https://D111111ABCDEF8.cloudfront.net/live/seg1.ts", "https://h/%41", "https://h/a b",
    "https://h/./a", "https://h/a/../b", "https://h/a*", "https://h/é", "http://h", "ftp://h/a",
    "https://h/a#f", "https://h/a?b=1", URL + "?", "https://h/", "https://h:443/a",
    "https://user@h/a", "https://[2001:db8::1]/a", "https://h/a?Expires=1",
]
_UTC = dt.timezone.utc
# now= values: around the expiry, None (the verifier's clock: T - 10), and bad ones.
_NOWS = [T - 10] * 4 + [
    T, T + 10, None, dt.datetime.fromtimestamp(T - 10, _UTC), dt.datetime.fromtimestamp(T, _UTC),
    dt.datetime(2025, 1, 1), "x", 1.5, True, -1,
]


@st.composite
def _queries(draw):
    pieces = [
        draw(st.sampled_from(["Expires="] * 8 + ["expires=", "Expirez=", "Expires"]))
        + draw(st.sampled_from(_EXPIRES_VALUES)),
        "Signature=" + draw(st.sampled_from(_SIGNATURE_VALUES)),
        "Key-Pair-Id=" + draw(st.sampled_from(_KEY_ID_VALUES)),
    ]
    if draw(st.integers(0, 3)) == 0:  # another order, one draw in four
        pieces = draw(st.permutations(pieces))
    if draw(st.integers(0, 3)) == 0:  # other parameters too, one draw in four
        for extra in draw(st.lists(st.sampled_from(_OTHER_PIECES), min_size=1, max_size=2)):
            pieces.insert(draw(st.integers(0, len(pieces))), extra)
    return "&".join(pieces)


@pytest.fixture(scope="module")
def fast_lane_signers(rsa_key, ec_key):
    return {
        KID: UrlSigner(KID, rsa_key, hash_algorithm="SHA1", clock=_before_t),
        "KECKEY": UrlSigner("KECKEY", ec_key, hash_algorithm="SHA1", clock=_before_t),
    }


def _with_good_signature(signers, signed_url):
    """Put in place of GOOD the signature over the canned policy that the general
    parser says this request carries, by the key it names (a bad one when there is no
    such policy or key); GOOD% is the same with its first character percent-encoded."""
    if "Signature=GOOD" not in signed_url:
        return signed_url
    signer = signers[KID]
    try:
        url, found = _split_signed_url(signed_url.replace("Signature=GOOD", "Signature=x"))
        signer = signers.get(found.get("Key-Pair-Id", ""), signer)
        message = CannedPolicy(url, int(found["Expires"])).to_json().encode()
    except (KeyError, ValueError, MalformedSignatureError):
        message = b"no canned policy here"
    signature = cf_b64encode(signer.sign(message))
    escaped = f"%{ord(signature[0]):02X}{signature[1:]}"
    return signed_url.replace("Signature=GOOD%", "Signature=" + escaped).replace(
        "Signature=GOOD", "Signature=" + signature
    )


def _general_verify(verifier, signed_url, now, client_ip):
    """verify_url without its fast lane: the general parser, then verify()."""
    url, found = _split_signed_url(signed_url)
    signed = SignedUrl(url, *_signing_fields(url, found, prefix=""))
    return verifier.verify(signed, now=now, client_ip=client_ip)


def _verdict(verify, *args):
    """What a call returns, or the package error it raises (type, message, URL)."""
    try:
        return verify(*args)
    except MediaStoreIngestError as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "url", None))


def _fast_lane_verdicts(verifier, signed_url, now, client_ip=None):
    got = _verdict(
        functools.partial(verifier.verify_url, now=now, client_ip=client_ip), signed_url
    )
    return got, _verdict(_general_verify, verifier, signed_url, now, client_ip)


@pytest.fixture(scope="module")
def fast_lane_verifiers(rsa_key, ec_key):
    pub, ec_pub = rsa_key.public_key(), ec_key.public_key()
    clock = lambda: T - 10  # noqa: E731
    return [
        UrlVerifier({KID: pub, "KECKEY": ec_pub}, clock=clock),
        UrlVerifier({KID: pub, "KOTHER": pub, "KOTHEREC": ec_pub}, clock=clock, cache_size=0),
    ]


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.sampled_from(_BASES),
    query=_queries(),
    now=st.sampled_from(_NOWS),
    client_ip=st.sampled_from([None, None, "192.0.2.1", "bogus"]),
)
def test_verify_url_fast_lane_agrees_with_the_general_path(
    fast_lane_signers, fast_lane_verifiers, base, query, now, client_ip
):
    """The same policy, or the same error (type, message and URL), for any request."""
    signed_url = _with_good_signature(
        fast_lane_signers, base + ("&" if "?" in base else "?") + query
    )
    for verifier in fast_lane_verifiers:
        got, want = _fast_lane_verdicts(verifier, signed_url, now, client_ip)
        assert got == want


@pytest.mark.parametrize(
    ("base", "query"),
    [
        (URL, "Expires=1767225600&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F"),
        (URL, "Expires=1767225600&Signature=GOOD&Key-Pair-Id=KECKEY"),
        (URL, "Expires=1767225600&Signature=GOOD%&Key-Pair-Id=K2JCJMDEHXQW5F"),
        (URL, "expires=1767225600&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F"),
        (URL, "Expires=01767225600&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F"),
        (URL, "Expires=2147483648&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F"),
        (URL, "Expires=" + "9" * 5000 + "&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F"),
        (URL, "Expires=1767225600&Signature=GOOD&Key-Pair-Id=KOTHER"),
        (URL, "Expires=1767225600&Signature=GOOD&Key-Pair-Id=KUNKNOWN"),
        (URL, "Expires=1767225600&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F&x=1"),
        (URL, "Expires=1767225600&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F&Policy=e30_"),
        (URL.upper(), "Expires=1767225600&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F"),
        ("https://h/a/./b", "Expires=1767225600&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F"),
        ("https://h/a*", "Expires=1767225600&Signature=GOOD&Key-Pair-Id=K2JCJMDEHXQW5F"),
        ("https://h/a*", "Expires=1767225600&Signature=BAD&Key-Pair-Id=K2JCJMDEHXQW5F"),
    ],
)
@pytest.mark.parametrize("now", [T - 10, T, None, dt.datetime.fromtimestamp(T - 10, _UTC), "x"])
def test_verify_url_fast_lane_agrees_on_each_near_miss(
    fast_lane_signers, fast_lane_verifiers, base, query, now
):
    signed_url = _with_good_signature(fast_lane_signers, f"{base}?{query}")
    for verifier in fast_lane_verifiers:
        got, want = _fast_lane_verdicts(verifier, signed_url, now)
        assert got == want


def test_verify_url_fast_lane_takes_the_canonical_layout(rsa_key, rsa_signer, monkeypatch):
    """A signer's canned URL in wire form never reaches the general parser; anything
    else does (so the lane cannot silently stop being taken, nor take too much)."""
    import mediastore_ingest.signing.verifier as signing

    verifier = UrlVerifier({KID: rsa_key.public_key()}, cache_size=0)
    calls = []
    general = signing._parse_signed_url
    monkeypatch.setattr(
        signing, "_parse_signed_url", lambda u: calls.append(u) or general(u)
    )
    canonical = rsa_signer.sign_url(URL, expires=T)
    assert verifier.verify_url(canonical, now=T - 1) == CannedPolicy(URL, T)
    assert calls == []
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(canonical.replace("seg1", "seg2"), now=T - 1)
    with pytest.raises(PolicyExpiredError):
        verifier.verify_url(canonical, now=T)
    assert calls == []
    needs_normalising = canonical.replace("d111111", "D111111")  # the host's case
    assert verifier.verify_url(needs_normalising, now=T - 1) == CannedPolicy(URL, T)
    assert calls == [needs_normalising]
    # The SHA-256 layout (the default signer's) takes the lane too.
    sha256 = UrlSigner(KID, rsa_key, clock=_before_t).sign_url(URL, expires=T)
    assert sha256.endswith("&Hash-Algorithm=SHA256")
    assert verifier.verify_url(sha256, now=T - 1) == CannedPolicy(URL, T)
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(sha256.replace("SHA256", "SHA1"), now=T - 1)
    assert calls == [needs_normalising, sha256.replace("SHA256", "SHA1")]


# -- one spelling per byte string, typed errors for odd hand-made input ------------------------


def test_ecdsa_signature_with_an_extra_pad_character_is_refused(ec_key):
    """A DER ECDSA signature of 72 bytes has no padding; one "_" more decoded to the
    same bytes on CPython 3.10-3.12."""
    signer = UrlSigner("KECKEY", ec_key, clock=_before_t)
    for expires in range(T, T + 1000):  # ECDSA is randomised: find a 72-byte one
        signed = signer.sign_url(URL, expires=expires)
        signature = signed.split("Signature=")[1].split("&")[0]
        if len(cf_b64decode(signature)) % 3 == 0:
            break
    assert not signature.endswith("_")
    respelled = signed.replace(signature, signature + "_")
    verifier = UrlVerifier({"KECKEY": ec_key.public_key()}, cache_size=0)
    verifier.verify_url(signed, now=0)
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(respelled, now=0)


def test_hand_made_signed_url_with_a_datetime_expiry_verifies(rsa_signer, verifier):
    parsed = SignedUrl.parse(rsa_signer.sign_url(URL, expires=T))
    when = dt.datetime.fromtimestamp(T, tz=dt.timezone.utc)
    signed = SignedUrl(parsed.url, parsed.signature, KID, expires=when)  # type: ignore[arg-type]
    assert verifier.verify(signed, now=0) == CannedPolicy(URL, T)


@pytest.mark.parametrize(
    "fields",
    [
        {"signature": None},
        {"signature": b"AAAA"},
        {"signature": ["AAAA"]},
        {"key_pair_id": 7},
        {"policy": b"eyJ9", "expires": None},
    ],
)
def test_hand_made_signed_url_with_non_str_fields_is_refused(verifier, fields):
    values = {"url": URL, "signature": "AAAA", "key_pair_id": KID, "expires": T, **fields}
    with pytest.raises(InvalidInputError):
        verifier.verify(SignedUrl(**values), now=0)


def test_an_absurdly_long_expires_is_malformed(verifier):
    huge = "1" * 5000
    signed = f"{URL}?Expires={huge}&Signature=AAAA&Key-Pair-Id={KID}"
    with pytest.raises(MalformedSignatureError, match="Expires"):
        verifier.verify_url(signed, now=0)
    with pytest.raises(MalformedSignatureError, match="Expires"):
        SignedUrl.parse(signed)
    cookies = {"CloudFront-Expires": huge, "CloudFront-Signature": "AAAA",
               "CloudFront-Key-Pair-Id": KID}
    with pytest.raises(MalformedSignatureError, match="Expires"):
        verifier.verify_cookies(URL, cookies, now=0)


def test_lone_surrogate_in_a_url_is_a_policy_error(verifier):
    from mediastore_ingest.signing.policy import normalize_url

    with pytest.raises(PolicyError):
        normalize_url("https://h/\ud800")
    with pytest.raises(MalformedSignatureError):
        verifier.verify_url(f"https://h/\ud800?Expires={T}&Signature=AAAA&Key-Pair-Id={KID}")


# -- the signer's limits and the verifier's strictness ------------------------------------------


def test_url_over_8192_bytes_refused(rsa_signer):
    with pytest.raises(PolicyError, match="8,192"):
        rsa_signer.sign_url("https://d1.cloudfront.net/" + "a" * 9000, expires=T)


def test_negative_relative_expiry_refused(rsa_signer):
    with pytest.raises(PolicyError, match="already expired"):
        rsa_signer.sign_url("https://d1.cloudfront.net/x", expires=dt.timedelta(seconds=-5), now=T)


def test_unsigned_policy_is_not_parsed_before_the_signature(verifier):
    deep = cf_b64encode(b"[" * 5000)
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(f"https://d1.cloudfront.net/x?Policy={deep}&Signature=AAAA&Key-Pair-Id={KID}")


@pytest.mark.parametrize("expires", ["0" + str(T), "%31767225600", "+1767225600"])
def test_expires_must_be_plain_digits(rsa_signer, verifier, expires):
    url = rsa_signer.sign_url("https://d1.cloudfront.net/x", expires=T)
    tampered = url.replace(f"Expires={T}", f"Expires={expires}")
    with pytest.raises(MalformedSignatureError):
        verifier.verify_url(tampered, now=T - 1)


def test_duplicate_signed_cookies_refused(rsa_signer, verifier):
    policy = CustomPolicy("https://d1.cloudfront.net/*", T)
    header = rsa_signer.cookie_header(policy)
    with pytest.raises(MalformedSignatureError, match="twice"):
        verifier.verify_cookies("https://d1.cloudfront.net/x",
                                "CloudFront-Policy=garbage; " + header, now=T - 1)
