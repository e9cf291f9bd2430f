"""A signature whose policy has already expired is refused when it is made.

CloudFront refuses a request at or after the policy's ``DateLessThan``, so a URL or a
cookie set signed with a past expiry can only ever be refused: the signer says so, with
a typed error, instead of handing it out. "Now" is the signer's clock (a parameter), or
``now=`` per call; a policy *object* with a past expiry can still be built (to test a
verifier with it), and ``now=`` signs one as of an earlier time for such a test.
"""

from __future__ import annotations

import datetime as dt

import pytest

import mediastore_ingest.errors as errors
from mediastore_ingest.errors import PolicyError, PolicyExpiredError
from mediastore_ingest.signing.policy import CannedPolicy, CustomPolicy
from mediastore_ingest.signing.rotation import RotatingUrlSigner, ScheduledKey
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import UrlVerifier
from tests._support.cli import assert_one_line_error, run

BASE = "https://d1.cloudfront.net"
URL = f"{BASE}/live/seg1.ts"
KID = "K2JCJMDEHXQW5F"
NOW = 1_900_000_000
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def signer(rsa_key) -> UrlSigner:  # type: ignore[no-untyped-def]
    return UrlSigner(KID, rsa_key, clock=lambda: NOW)


def _expired() -> type[Exception]:
    return errors.AlreadyExpiredError  # type: ignore[attr-defined,no-any-return]


def test_the_error_is_a_policy_error_and_a_value_error() -> None:
    assert issubclass(_expired(), PolicyError)
    assert issubclass(_expired(), ValueError)
    assert "AlreadyExpiredError" in errors.__all__


@pytest.mark.parametrize(
    "expires",
    [NOW, NOW - 1, 1, dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime.fromtimestamp(NOW, UTC)],
    ids=["now", "a-second-ago", "1970", "2020-datetime", "now-datetime"],
)
def test_sign_url_refuses_a_past_expiry(signer: UrlSigner, expires: object) -> None:
    with pytest.raises(_expired()) as info:
        signer.sign_url(URL, expires=expires)  # type: ignore[arg-type]
    message = str(info.value)
    assert "already expired" in message
    assert "2030-03-17T17:46:40Z" in message  # now, as an instant a reader can check


def test_a_relative_expiry_of_zero_or_less_is_the_same_error(signer: UrlSigner) -> None:
    for delta in (dt.timedelta(0), dt.timedelta(seconds=-5)):
        with pytest.raises(_expired()):
            signer.sign_url(URL, expires=delta)


def test_a_custom_policy_that_has_expired_is_refused_everywhere(signer: UrlSigner) -> None:
    policy = CustomPolicy(f"{BASE}/live/*", NOW - 60)
    for call in (
        lambda: signer.sign_url(URL, policy=policy),
        lambda: signer.sign_cookies(policy),
        lambda: signer.cookie_header(policy),
        lambda: signer.set_cookie_headers(policy),
        lambda: signer.policy_params(policy),
    ):
        with pytest.raises(_expired()):
            call()
    with pytest.raises(_expired()):
        signer.sign_cookies(CannedPolicy(URL, NOW))


def test_a_future_expiry_signs(signer: UrlSigner) -> None:
    assert "Expires=1900000001&" in signer.sign_url(URL, expires=NOW + 1)
    assert signer.sign_cookies(CustomPolicy(f"{BASE}/live/*", NOW + 1))


def test_now_signs_an_expired_url_on_purpose_for_a_test(signer: UrlSigner, rsa_key) -> None:  # type: ignore[no-untyped-def]
    expired = signer.sign_url(URL, expires=NOW - 1, now=NOW - 2)
    verifier = UrlVerifier({KID: rsa_key.public_key()}, clock=lambda: NOW)
    with pytest.raises(PolicyExpiredError):
        verifier.verify_url(expired)
    policy = CustomPolicy(f"{BASE}/live/*", NOW - 1)
    with pytest.raises(PolicyExpiredError):
        verifier.verify_cookies(URL, signer.sign_cookies(policy, now=NOW - 2))
    assert signer.cookie_header(policy, now=NOW - 2)
    assert signer.set_cookie_headers(policy, now=NOW - 2)
    assert signer.policy_params(policy, now=NOW - 2)


def test_policies_with_a_past_expiry_can_still_be_built() -> None:
    assert CannedPolicy(URL, 1).expires == 1
    assert CustomPolicy(f"{BASE}/*", 1).expires == 1


def test_a_rotating_signer_refuses_it_too(rsa_key) -> None:  # type: ignore[no-untyped-def]
    rotating = RotatingUrlSigner([ScheduledKey(KID, rsa_key, active_from=0)], clock=lambda: NOW)
    with pytest.raises(_expired()):
        rotating.sign_url(URL, expires=NOW)
    policy = CustomPolicy(f"{BASE}/live/*", NOW)
    for call in (rotating.sign_cookies, rotating.cookie_header, rotating.set_cookie_headers,
                 rotating.policy_params):
        with pytest.raises(_expired()):
            call(policy)
        assert call(policy, now=NOW - 1)


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["sign-url", URL, "--expires", "2020-01-01T00:00:00Z"],
        ["sign-url", URL, "--expires", "1577836800", "--custom"],
        ["sign-cookies", "--resource", f"{BASE}/live/*", "--expires", "2020-01-01T00:00:00Z"],
    ],
)
def test_the_command_line_refuses_a_past_expiry(capsys, key_files, argv) -> None:  # type: ignore[no-untyped-def]
    priv, _ = key_files
    code, out, err = run(capsys, *argv, "--key-id", KID, "--private-key", str(priv))
    assert_one_line_error(code, err)
    assert out == ""
    assert "already expired" in err
    assert "2020-01-01T00:00:00Z" in err
