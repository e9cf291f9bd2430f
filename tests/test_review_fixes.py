"""Regression tests for problems found in review (signing, URL forms, verifier, edge)."""

from __future__ import annotations

import time

import pytest
import urllib3
from cryptography.hazmat.primitives.asymmetric import ec

from mediastore_ingest._internal.b64 import cf_b64encode
from mediastore_ingest.errors import (
    InvalidInputError,
    MalformedSignatureError,
    PolicyError,
    PolicyParseError,
    SignatureMismatchError,
)
from mediastore_ingest.signing.policy import (
    CannedPolicy,
    CustomPolicy,
    normalize_url,
    wildcard_match,
)
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import UrlVerifier
from mediastore_ingest.testing import LocalStack

KID = "KREVIEW"
T = 1767225600


@pytest.fixture(scope="module")
def key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def signer(key):
    return UrlSigner(KID, key)


@pytest.fixture(scope="module")
def verifier(key):
    return UrlVerifier({KID: key.public_key()})


# -- the URL that is signed is the URL clients send -----------------------------------------


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("https://d1.cloudfront.net:443/live/x.ts", "https://d1.cloudfront.net/live/x.ts"),
        ("http://d1.cloudfront.net:80/live/x.ts", "http://d1.cloudfront.net/live/x.ts"),
        ("https://d1.cloudfront.net:8443/x", "https://d1.cloudfront.net:8443/x"),
        ("https://d1.cloudfront.net/a%2fb", "https://d1.cloudfront.net/a%2Fb"),
        ("https://d1.cloudfront.net/a[1].ts", "https://d1.cloudfront.net/a%5B1%5D.ts"),
        ("https://d1.cloudfront.net/live/../x.ts", "https://d1.cloudfront.net/x.ts"),
        ("https://d1.cloudfront.net/live/./x.ts", "https://d1.cloudfront.net/live/x.ts"),
        ("https://d1.cloudfront.net/a/b/..", "https://d1.cloudfront.net/a/"),
    ],
)
def test_normalised_form_is_what_urllib3_sends(given, sent):
    assert normalize_url(given) == sent
    parsed = urllib3.util.parse_url(sent)
    assert parsed.url == sent


def test_bad_ports_refused():
    for url in ("https://d1.cloudfront.net:99999/x", "https://d1.cloudfront.net:0/x"):
        with pytest.raises(PolicyError, match="port"):
            normalize_url(url)


def test_dot_segments_refused_in_wildcard_resources():
    with pytest.raises(PolicyError, match="dot segment"):
        CustomPolicy("https://d1.cloudfront.net/live/../*", T)


def test_non_str_urls_are_policy_errors():
    for bad in ({}, ["x"], None, b"https://a/"):
        with pytest.raises(PolicyError):
            normalize_url(bad)  # type: ignore[arg-type]


def test_url_over_8192_bytes_refused(signer):
    with pytest.raises(PolicyError, match="8,192"):
        signer.sign_url("https://d1.cloudfront.net/" + "a" * 9000, expires=T)


def test_negative_relative_expiry_refused(signer):
    import datetime as dt

    with pytest.raises(PolicyError, match="past"):
        signer.sign_url("https://d1.cloudfront.net/x", expires=dt.timedelta(seconds=-5), now=T)


# -- wildcard matching is linear --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("", "", True), ("*", "", True), ("?", "", False), ("a*b", "ab", True),
        ("a*b", "axxb", True), ("a*b", "axxc", False), ("*a*a*a*b", "a" * 50, False),
        ("a?c", "abc", True), ("a?c", "ac", False), ("*.ts", "x/y.ts", True),
        ("live/*", "live/", True), ("live/*", "vod/x", False), ("**", "abc", True),
    ],
)
def test_wildcard_match(pattern, text, expected):
    assert wildcard_match(pattern, text) is expected


def test_wildcard_match_case_insensitive():
    assert wildcard_match("MediaStore:Put*", "mediastore:putobject", case_sensitive=False)
    assert not wildcard_match("MediaStore:Put*", "mediastore:putobject")


def test_pathological_wildcards_stay_fast():
    policy = CustomPolicy("https://d1.cloudfront.net/live/*a*a*a*a*a*a*b", T)
    started = time.monotonic()
    assert not policy.matches("https://d1.cloudfront.net/live/" + "a" * 2000)
    # Correctness is asserted above; the bound below only catches exponential blow-up
    # (the old regex took minutes here), not ordinary slowness.
    assert time.monotonic() - started < 20


# -- the verifier -----------------------------------------------------------------------------


def test_unsigned_policy_is_not_parsed_before_the_signature(verifier):
    deep = cf_b64encode(b"[" * 5000)
    with pytest.raises(SignatureMismatchError):
        verifier.verify_url(f"https://d1.cloudfront.net/x?Policy={deep}&Signature=AAAA&Key-Pair-Id={KID}")


def test_deeply_nested_policy_json_is_a_parse_error():
    with pytest.raises(PolicyParseError):
        CustomPolicy.from_json("[" * 5000)


def test_duplicate_policy_keys_refused():
    text = ('{"Statement":[{"Resource":"https://a/*","Resource":"https://b/*",'
            '"Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}')
    with pytest.raises(PolicyParseError, match="duplicate"):
        CustomPolicy.from_json(text)


@pytest.mark.parametrize("expires", ["0" + str(T), "%31767225600", "+1767225600"])
def test_expires_must_be_plain_digits(signer, verifier, expires):
    url = signer.sign_url("https://d1.cloudfront.net/x", expires=T)
    tampered = url.replace(f"Expires={T}", f"Expires={expires}")
    with pytest.raises(MalformedSignatureError):
        verifier.verify_url(tampered, now=T - 1)


def test_duplicate_signed_cookies_refused(signer, verifier):
    policy = CustomPolicy("https://d1.cloudfront.net/*", T)
    header = signer.cookie_header(policy)
    with pytest.raises(MalformedSignatureError, match="twice"):
        verifier.verify_cookies("https://d1.cloudfront.net/x",
                                "CloudFront-Policy=garbage; " + header, now=T - 1)


@pytest.mark.parametrize(
    ("url", "cookies"),
    [(["u"], "a=b"), ("https://d1.cloudfront.net/x", b"a=b"), ("https://d1.cloudfront.net/x", 5)],
)
def test_verify_cookies_input_types(verifier, url, cookies):
    with pytest.raises(InvalidInputError):
        verifier.verify_cookies(url, cookies)


@pytest.mark.parametrize("client_ip", ["10.0.0.1:555", 16909060, "not-an-ip"])
def test_client_ip_must_be_an_address(signer, verifier, client_ip):
    policy = CustomPolicy("https://d1.cloudfront.net/*", T, source_ip="10.0.0.0/8")
    url = signer.sign_url("https://d1.cloudfront.net/x", policy=policy)
    with pytest.raises(InvalidInputError):
        verifier.verify_url(url, now=T - 1, client_ip=client_ip)


@pytest.mark.parametrize(
    "kwargs",
    [{"path": None}, {"domain": "a.com\x0b"}, {"path": "/x, Secure="}, {"domain": "a b"}],
)
def test_set_cookie_attributes_validated(signer, kwargs):
    with pytest.raises(InvalidInputError):
        signer.set_cookie_headers(CannedPolicy("https://d1.cloudfront.net/x", T), **kwargs)


# -- the local edge answers only for its own host ------------------------------------------


def test_edge_refuses_a_foreign_host_header():
    with LocalStack() as stack:
        base = stack.ingest_base_url
        policy = CustomPolicy(base + "/live/*", int(time.time()) + 600)
        url = stack.signer.sign_url(base + "/live/ok.ts", policy=policy)
        query = url.split("?", 1)[1]
        host = base.split("://", 1)[1]
        http = urllib3.PoolManager()
        smuggled = http.request("PUT", f"{base}/admin/evil.ts?{query}", body=b"data",
                                headers={"Host": host + "/live"})
        assert smuggled.status in (400, 403)
        playback = stack.sign_playback_url("live/x.ts")
        replayed = http.request(
            "PUT", base + "/live/x.ts?" + playback.split("?", 1)[1], body=b"pwned",
            headers={"Host": stack.playback_base_url.split("://", 1)[1]},
        )
        assert replayed.status in (400, 403)
        assert stack.container.paths() == []


# -- found in the input audit: hand-made SignedUrls, clocks, wildcard_match types ----------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, MalformedSignatureError),  # neither expires nor policy
        ({"expires": T, "policy": "e30_"}, MalformedSignatureError),  # both
        ({"expires": T, "hash_algorithm": []}, InvalidInputError),
        ({"expires": T, "hash_algorithm": None}, InvalidInputError),
        ({"expires": "soon"}, MalformedSignatureError),
    ],
)
def test_hand_made_signed_url_fields_are_checked(verifier, fields, error):
    from mediastore_ingest.signing.verifier import SignedUrl

    signed = SignedUrl("https://h/a", "c2ln", KID, **fields)
    with pytest.raises(error):
        verifier.verify(signed, now=T - 10)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "now", None])
def test_a_clock_that_returns_no_time_is_a_typed_error(key, signer, value):
    import datetime as dt

    verifier = UrlVerifier({KID: key.public_key()}, clock=lambda: value)
    with pytest.raises(InvalidInputError, match="clock"):
        verifier.verify_url(signer.sign_url("https://h/a", expires=T))
    broken = UrlSigner(KID, key, clock=lambda: value)
    with pytest.raises(InvalidInputError, match="clock"):
        broken.sign_url("https://h/a", expires=dt.timedelta(minutes=5))


@pytest.mark.parametrize("clock", [None, 5, "time"])
def test_clock_must_be_callable(key, clock):
    with pytest.raises(InvalidInputError, match="clock"):
        UrlVerifier({KID: key.public_key()}, clock=clock)
    with pytest.raises(InvalidInputError, match="clock"):
        UrlSigner(KID, key, clock=clock)


@pytest.mark.parametrize(("pattern", "text"), [(None, "x"), ("a*", 5), (b"a*", "a")])
def test_wildcard_match_wants_strings(pattern, text):
    with pytest.raises(InvalidInputError):
        wildcard_match(pattern, text)
