"""Custom policies without a Resource, how broad a policy is, and a caller's policy text
signed byte for byte."""

from __future__ import annotations

import json

import attrs
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mediastore_ingest._internal.b64 import cf_b64decode
from mediastore_ingest.errors import PolicyError, PolicyParseError
from mediastore_ingest.signing.policy import CustomPolicy
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import SignedUrl, UrlVerifier

BASE = "https://d1.cloudfront.net"
URL = f"{BASE}/live/seg1.ts"
KID = "K2JCJMDEHXQW5F"
T = 2_000_000_000
NOW = T - 3600


@pytest.fixture(scope="module")
def signer(rsa_key) -> UrlSigner:  # type: ignore[no-untyped-def]
    return UrlSigner(KID, rsa_key, hash_algorithm="SHA256", clock=lambda: NOW)


@pytest.fixture(scope="module")
def verifier(rsa_key) -> UrlVerifier:  # type: ignore[no-untyped-def]
    return UrlVerifier({KID: rsa_key.public_key()}, clock=lambda: NOW)


# -- Resource is optional -------------------------------------------------------------------


def test_a_custom_policy_may_leave_the_resource_out() -> None:
    policy = CustomPolicy(None, T, source_ip="192.0.2.0/24")
    assert policy.resource is None
    assert policy.to_json() == (
        '{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":2000000000},'
        '"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}'
    )
    assert CustomPolicy(resource=None, expires=T) == CustomPolicy(None, T)
    assert policy.matches("https://any.example/anything?at=all")


def test_from_json_reads_a_policy_without_a_resource() -> None:
    text = '{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":2000000000}}}]}'
    policy = CustomPolicy.from_json(text)
    assert policy == CustomPolicy(None, T)
    assert policy.to_json() == text


@pytest.mark.parametrize("resource", [1, "", b"https://a/*"])
def test_a_resource_that_is_given_must_still_be_a_url(resource: object) -> None:
    with pytest.raises(PolicyError):
        CustomPolicy(resource, T)  # type: ignore[arg-type]


def test_a_policy_without_a_resource_signs_and_verifies_any_url(signer, verifier) -> None:  # type: ignore[no-untyped-def]
    policy = CustomPolicy(None, T)
    for url in (URL, "https://other.example/vod/a.mp4?x=1"):
        assert verifier.verify_url(signer.sign_url(url, policy=policy)) == policy
        assert verifier.verify_cookies(url, signer.sign_cookies(policy)) == policy


# -- breadth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "breadth"),
    [
        (URL, "url"),
        (f"{BASE}/live/*", "prefix"),
        (f"{BASE}/live/*.ts", "pattern"),
        (f"{BASE}/live/seg?.ts", "pattern"),
        ("https://*.cloudfront.net/live/*", "hosts"),
        ("http*://d1.cloudfront.net/live/*", "hosts"),
        ("*/live/*", "hosts"),
        ("*", "key-group"),
        (None, "key-group"),
    ],
)
def test_breadth_says_how_much_a_policy_grants(resource: str | None, breadth: str) -> None:
    policy = CustomPolicy(resource, T)
    assert policy.breadth() == breadth
    findings = policy.findings()
    if breadth in ("url", "prefix"):
        assert findings == ()
    else:
        assert findings
        assert all(isinstance(f, str) and f for f in findings)


def test_findings_say_what_a_missing_resource_means() -> None:
    (finding,) = CustomPolicy(None, T).findings()
    assert "no Resource" in finding
    assert "key group" in finding


def test_findings_warn_that_a_question_mark_is_a_wildcard() -> None:
    findings = CustomPolicy(f"{BASE}/live/index.m3u8?x=1", T).findings()
    assert any("'?'" in f and "one character" in f for f in findings)


# -- a caller's policy text, signed as given ---------------------------------------------------

# As another tool writes it: indented, keys in its own order, a trailing newline.
TEXT = (
    '{\n  "Statement": [\n    {\n      "Condition": {\n'
    '        "DateLessThan": { "AWS:EpochTime": 2000000000 }\n      },\n'
    f'      "Resource": "{BASE}/live/*"\n    }}\n  ]\n}}\n'
)


def test_keep_text_keeps_the_callers_bytes() -> None:
    policy = CustomPolicy.from_json(TEXT, keep_text=True)
    assert policy.to_json() == TEXT
    assert policy.text == TEXT
    assert (policy.resource, policy.expires) == (f"{BASE}/live/*", T)
    assert CustomPolicy.from_json(TEXT.encode("utf-8"), keep_text=True).to_json() == TEXT
    # Without keep_text the policy is written the canonical way, as before.
    plain = CustomPolicy.from_json(TEXT)
    assert plain.text is None
    assert plain.to_json() == CustomPolicy(f"{BASE}/live/*", T).to_json()
    # Two policies are equal when they sign the same bytes.
    assert plain != policy
    assert CustomPolicy.from_json(plain.to_json(), keep_text=True) == plain


def test_the_signature_is_over_the_callers_exact_bytes(signer, verifier, rsa_key) -> None:  # type: ignore[no-untyped-def]
    policy = CustomPolicy.from_json(TEXT, keep_text=True)
    signed = SignedUrl.parse(signer.sign_url(URL, policy=policy))
    assert signed.policy is not None
    assert cf_b64decode(signed.policy) == TEXT.encode("utf-8")
    rsa_key.public_key().verify(
        cf_b64decode(signed.signature), TEXT.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
    )
    verified = verifier.verify_url(signer.sign_url(URL, policy=policy))
    assert verified == policy
    assert verified.to_json() == TEXT
    cookies = signer.sign_cookies(policy)
    assert cf_b64decode(cookies["CloudFront-Policy"]) == TEXT.encode("utf-8")
    assert verifier.verify_cookies(URL, cookies).to_json() == TEXT


def test_a_kept_text_is_still_checked_against_the_url(signer) -> None:  # type: ignore[no-untyped-def]
    policy = CustomPolicy.from_json(TEXT, keep_text=True)
    with pytest.raises(PolicyError, match="not covered"):
        signer.sign_url(f"{BASE}/vod/a.mp4", policy=policy)


def test_a_changed_policy_is_written_anew() -> None:
    policy = CustomPolicy.from_json(TEXT, keep_text=True)
    renewed = attrs.evolve(policy, expires=T + 60)
    assert renewed.text is None
    assert json.loads(renewed.to_json())["Statement"][0]["Condition"]["DateLessThan"] == {
        "AWS:EpochTime": T + 60
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # CloudFront compares the Resource with the URL as sent (percent-encoded).
        ('{"Statement":[{"Resource":"https://d1.cloudfront.net/caf\u00e9/*",'
         '"Condition":{"DateLessThan":{"AWS:EpochTime":2000000000}}}]}', "Resource"),
        ('{"Statement":[{"Resource":"https://d1.cloudfront.net/a b/*",'
         '"Condition":{"DateLessThan":{"AWS:EpochTime":2000000000}}}]}', "Resource"),
        ('{"Statement":[{"Resource":"https://D1.cloudfront.net/live/*",'
         '"Condition":{"DateLessThan":{"AWS:EpochTime":2000000000}}}]}', "Resource"),
        ('{"Statement":[{"Resource":"https://d1.cloudfront.net/live/*",'
         '"Condition":{"DateLessThan":{"AWS:EpochTime":2000000000},'
         '"IpAddress":{"AWS:SourceIp":"192.0.2.7"}}}]}', "192.0.2.7/32"),
    ],
)
def test_keep_text_refuses_a_text_cloudfront_would_read_differently(text: str, message: str) -> None:
    CustomPolicy.from_json(text)  # re-serialised, each of these is fine
    with pytest.raises(PolicyParseError, match=message):
        CustomPolicy.from_json(text, keep_text=True)


@pytest.mark.parametrize("text", ["not json", '{"Statement":[]}', "[]"])
def test_keep_text_still_wants_a_cloudfront_policy(text: str) -> None:
    with pytest.raises(PolicyParseError):
        CustomPolicy.from_json(text, keep_text=True)


def test_the_verifier_returns_a_foreign_policy_it_cannot_keep_as_before(
    signer, verifier, rsa_key  # type: ignore[no-untyped-def]
) -> None:
    # Signed by another tool over a Resource that is not in wire form: still parsed.
    text = (
        '{"Statement":[{"Resource":"https://d1.cloudfront.net/caf\u00e9/*",'
        '"Condition":{"DateLessThan":{"AWS:EpochTime":2000000000}}}]}'
    ).encode("utf-8")
    from mediastore_ingest._internal.b64 import cf_b64encode

    sig = cf_b64encode(rsa_key.sign(text, padding.PKCS1v15(), hashes.SHA1()))
    url = f"{BASE}/caf%C3%A9/a.ts?Policy={cf_b64encode(text)}&Signature={sig}&Key-Pair-Id={KID}"
    policy = verifier.verify_url(url)
    assert isinstance(policy, CustomPolicy)
    assert policy.text is None
    assert policy.resource == f"{BASE}/caf%C3%A9/*"
