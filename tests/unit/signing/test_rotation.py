"""RotatingUrlSigner: the key active at the time signs; keys are scheduled and retired
while running; it stands wherever a UrlSigner does (an IngestClient here, with a mock
transport; the local stack end to end in tests/servers/test_kms_stack.py)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mediastore_ingest import (
    CustomPolicy,
    IngestClient,
    InvalidInputError,
    MockTransport,
    NoActiveKeyError,
    PolicyError,
    Response,
    RotatingUrlSigner,
    ScheduledKey,
    SignedUrl,
    SigningError,
    UrlSigner,
    UrlVerifier,
)

OLD, NEW, NEXT = "K1OLDKEY000001", "K2NEWKEY000002", "K3NEXTKEY00003"
SWITCH = 1_800_000_000
BASE = "https://d111111abcdef8.cloudfront.net/live/"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        OLD: ec.generate_private_key(ec.SECP256R1()),
        NEW: ec.generate_private_key(ec.SECP256R1()),
        NEXT: ec.generate_private_key(ec.SECP256R1()),
    }


def rotation(keys: dict[str, Any], clock: Clock, **kwargs: Any) -> RotatingUrlSigner:
    return RotatingUrlSigner(
        [ScheduledKey(OLD, keys[OLD], active_from=0), ScheduledKey(NEW, keys[NEW], SWITCH)],
        clock=clock,
        **kwargs,
    )


def key_id_of(url: str) -> str:
    return SignedUrl.parse(url).key_pair_id


def test_the_key_active_at_the_time_signs(keys: dict[str, Any]) -> None:
    clock = Clock(SWITCH - 1)
    signer = rotation(keys, clock)
    verifier = UrlVerifier({k: v.public_key() for k, v in keys.items()})
    before = signer.sign_url(BASE + "a.ts", expires=dt.timedelta(minutes=5))
    assert (signer.key_id, key_id_of(before)) == (OLD, OLD)
    assert verifier.verify_url(before, now=SWITCH).expires == SWITCH - 1 + 300
    clock.now = SWITCH  # active_from is inclusive
    after = signer.sign_url(BASE + "a.ts", expires=dt.timedelta(minutes=5))
    assert (signer.key_id, key_id_of(after)) == (NEW, NEW)
    assert verifier.verify_url(after, now=SWITCH).expires == SWITCH + 300
    policy = CustomPolicy(BASE + "*", SWITCH + 600)
    assert signer.sign_cookies(policy)["CloudFront-Key-Pair-Id"] == NEW
    assert f"CloudFront-Key-Pair-Id={NEW}" in signer.cookie_header(policy)
    assert any(NEW in h for h in signer.set_cookie_headers(policy, domain="example.com"))
    assert f"Key-Pair-Id={NEW}" in signer.policy_params(policy)
    assert signer.hash_algorithm == "SHA256"
    assert signer.algorithm == "ECDSA-P256"
    assert signer.sign(b"x")


def test_now_chooses_the_key_and_the_relative_expiry(keys: dict[str, Any]) -> None:
    signer = rotation(keys, Clock(0))
    url = signer.sign_url(BASE + "a.ts", expires=dt.timedelta(seconds=60), now=SWITCH + 5)
    assert key_id_of(url) == NEW
    assert SignedUrl.parse(url).expires == SWITCH + 65
    when = dt.datetime.fromtimestamp(SWITCH - 10, tz=dt.timezone.utc)
    assert signer.active(now=when).key_id == OLD
    assert signer.next_activation(now=when) == SWITCH
    assert signer.next_activation(now=SWITCH) is None


def test_before_the_first_activation_no_key_signs(keys: dict[str, Any]) -> None:
    signer = RotatingUrlSigner([ScheduledKey(NEW, keys[NEW], SWITCH)], clock=Clock(SWITCH - 30))
    with pytest.raises(NoActiveKeyError, match=f"the first, {NEW}, signs from") as info:
        signer.sign_url(BASE + "a.ts", expires=SWITCH + 60)
    assert (info.value.at, info.value.next_activation) == (SWITCH - 30, SWITCH)
    assert isinstance(info.value, SigningError)


def test_keys_are_scheduled_and_retired_while_running(keys: dict[str, Any]) -> None:
    clock = Clock(SWITCH + 10)
    signer = rotation(keys, clock)
    signer.add_key(ScheduledKey(NEXT, keys[NEXT], SWITCH + 100))
    assert [k.key_id for k in signer.schedule] == [OLD, NEW, NEXT]
    assert signer.key_id == NEW
    with pytest.raises(InvalidInputError, match="is the active key"):
        signer.remove_key(NEW)
    retired = signer.remove_key(OLD)
    assert retired.key_id == OLD
    assert retired.active_from == 0
    clock.now = SWITCH + 100
    assert signer.key_id == NEXT
    signer.remove_key(NEW)
    with pytest.raises(InvalidInputError, match="only key"):
        signer.remove_key(NEXT, now=0)
    with pytest.raises(InvalidInputError, match="no key 'K9'"):
        signer.remove_key("K9")
    # A scheduled key not active yet can be withdrawn.
    signer.add_key(ScheduledKey(OLD, keys[OLD], SWITCH + 500))
    assert signer.remove_key(OLD).key_id == OLD


def test_a_refused_key_changes_nothing(keys: dict[str, Any]) -> None:
    signer = rotation(keys, Clock(SWITCH))
    with pytest.raises(InvalidInputError, match="scheduled twice"):
        signer.add_key(ScheduledKey(NEW, keys[NEXT], SWITCH + 5))
    with pytest.raises(InvalidInputError, match="both activate at epoch"):
        signer.add_key(ScheduledKey(NEXT, keys[NEXT], SWITCH))
    with pytest.raises(InvalidInputError, match="key_id must be a CloudFront"):
        signer.add_key(ScheduledKey("bad id", keys[NEXT], SWITCH + 5))
    assert [k.key_id for k in signer.schedule] == [OLD, NEW]


@pytest.mark.parametrize(
    ("keys_arg", "error", "match"),
    [
        ([], InvalidInputError, "at least one"),
        ("K1", InvalidInputError, "iterable of ScheduledKey"),
        ([("K1", b"", 0)], InvalidInputError, "ScheduledKey values"),
    ],
)
def test_bad_schedules_are_refused(keys_arg: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        RotatingUrlSigner(keys_arg)


def test_activation_times_are_checked_like_policy_times(keys: dict[str, Any]) -> None:
    with pytest.raises(PolicyError, match="active_from is a naive datetime"):
        ScheduledKey(OLD, keys[OLD], dt.datetime(2027, 1, 1))
    with pytest.raises(PolicyError, match="milliseconds"):
        ScheduledKey(OLD, keys[OLD], SWITCH * 1000)


def test_a_clock_that_gives_no_time_is_refused(keys: dict[str, Any]) -> None:
    signer = rotation(keys, lambda: "noon")  # type: ignore[arg-type,return-value]
    with pytest.raises(InvalidInputError, match="clock returned"):
        signer.key_id  # noqa: B018


def test_each_key_signs_a_wildcard_policy_once(keys: dict[str, Any]) -> None:
    calls: list[str] = []

    class Counting:
        algorithm = "ECDSA-P256"
        hash_algorithm = "SHA256"

        def __init__(self, name: str) -> None:
            self.name = name

        def sign(self, message: bytes) -> bytes:
            calls.append(self.name)
            key = keys[self.name]
            from cryptography.hazmat.primitives import hashes

            return bytes(key.sign(message, ec.ECDSA(hashes.SHA256())))

    clock = Clock(SWITCH - 100)
    signer = RotatingUrlSigner(
        [ScheduledKey(OLD, Counting(OLD), 0), ScheduledKey(NEW, Counting(NEW), SWITCH)],
        clock=clock,
    )
    assert signer.hash_algorithm == "SHA256"
    channel = CustomPolicy(BASE + "*", SWITCH + 3600)
    for i in range(50):
        signer.sign_url(f"{BASE}{i}.ts", policy=channel)
    clock.now = SWITCH
    for i in range(50):
        signer.sign_url(f"{BASE}{i}.ts", policy=channel)
    assert calls == [OLD, NEW]


def test_it_is_a_url_signer_with_every_public_member_answered(keys: dict[str, Any]) -> None:
    signer = rotation(keys, Clock(0))
    assert isinstance(signer, UrlSigner)
    public = {name for name in vars(UrlSigner) if not name.startswith("_")} | {"__repr__"}
    missing = public - set(vars(RotatingUrlSigner))
    assert not missing, f"RotatingUrlSigner must answer {missing} with the active key"
    assert repr(signer) == f"RotatingUrlSigner([{OLD}@0, {NEW}@{SWITCH}])"


def test_the_schedule_shows_no_key(keys: dict[str, Any]) -> None:
    text = repr(ScheduledKey(OLD, keys[OLD], 0, password="hunter2"))
    assert text == f"ScheduledKey(key_id={OLD!r}, active_from=0)"


def test_an_ingest_client_moves_to_the_new_key_mid_stream(keys: dict[str, Any]) -> None:
    clock = Clock(SWITCH - 2)
    seen: list[str] = []

    def origin(request: Any) -> Response:
        seen.append(request.headers.get("Cookie") or request.url)
        return Response(200, {"ETag": "x"}, b"{}")

    signer = rotation(keys, clock)
    verifier = UrlVerifier({OLD: keys[OLD].public_key(), NEW: keys[NEW].public_key()})
    for auth in ("url", "cookie"):
        seen.clear()
        clock.now = SWITCH - 2
        client = IngestClient(
            "https://d111111abcdef8.cloudfront.net", signer=signer, auth=auth,  # type: ignore[arg-type]
            transport=MockTransport(origin), clock=clock,
        )
        for i in range(6):
            client.put(f"live/seg{i}.ts", b"data")
            clock.now += 1
        ids = [
            (SignedUrl.from_cookies(BASE, s) if auth == "cookie" else SignedUrl.parse(s)).key_pair_id
            for s in seen
        ]
        assert ids == [OLD, OLD, NEW, NEW, NEW, NEW], auth
        if auth == "url":
            for url in seen:
                verifier.verify_url(url, now=SWITCH)


def test_signing_while_the_schedule_changes(keys: dict[str, Any]) -> None:
    clock = Clock(SWITCH)
    signer = rotation(keys, clock)
    errors: list[BaseException] = []
    stop = threading.Event()

    def sign() -> None:
        try:
            i = 0
            while not stop.is_set():
                assert key_id_of(signer.sign_url(f"{BASE}{i}.ts", expires=SWITCH + 60)) == NEW
                i += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sign) for _ in range(4)]
    for t in threads:
        t.start()
    for n in range(50):
        signer.add_key(ScheduledKey(NEXT, keys[NEXT], SWITCH + 1000 + n))
        signer.remove_key(NEXT)
    stop.set()
    for t in threads:
        t.join()
    assert not errors


def test_rsa_and_ecdsa_keys_mix(rsa_key: rsa.RSAPrivateKey, keys: dict[str, Any]) -> None:
    signer = RotatingUrlSigner(
        [ScheduledKey(OLD, rsa_key, 0), ScheduledKey(NEW, keys[NEW], SWITCH)],
        hash_algorithm="SHA256",
        clock=Clock(0),
    )
    assert signer.algorithm == "RSA-2048"
    assert signer.active(now=SWITCH).algorithm == "ECDSA-P256"
    assert signer.active(now=SWITCH).hash_algorithm == "SHA256"
