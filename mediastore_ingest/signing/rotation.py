"""Key rotation across a CloudFront key group, without a restart.

A [`RotatingUrlSigner`][mediastore_ingest.signing.RotatingUrlSigner] holds several keys of one key
group, each with the time it becomes the signing key
([`ScheduledKey`][mediastore_ingest.signing.ScheduledKey]), and signs every URL or cookie set with
the key active at that moment: the one with the latest ``active_from`` that has come. It *is* a
[`UrlSigner`][mediastore_ingest.signing.UrlSigner] (same methods, ``key_id`` and ``hash_algorithm``
those of the active key), so an [`IngestClient`][mediastore_ingest.ingest.IngestClient], the signing
relay or a [`LocalStack`][mediastore_ingest.testing.LocalStack] take it where they take a signer,
and move to the new key when its time comes, mid-stream::

    signer = RotatingUrlSigner([
        ScheduledKey("K2JCJMDEHXQW5F", KmsSigner(old_arn), active_from=0),
        ScheduledKey("K3NEWKEYEXAMPLE", KmsSigner(new_arn), active_from=switch_at),
    ])
    client = IngestClient("https://d1.cloudfront.net", signer=signer, policy=channel)

The procedure (see the "Keys in KMS" guide): add the new public key to the key group and wait until
CloudFront has deployed it; only then let the new key become active (``active_from``), and keep the
old key in the key group until everything signed with it has expired.
[`RotatingUrlSigner.add_key`][mediastore_ingest.signing.rotation.RotatingUrlSigner.add_key]
schedules a key on a running signer and
[`RotatingUrlSigner.remove_key`][mediastore_ingest.signing.rotation.RotatingUrlSigner.remove_key]
drops a retired one, so a long-running process rotates without a restart.

The clock (epoch seconds) is a constructor parameter and ``now=`` overrides it per
call; nothing here reads the time otherwise. Each key has its own signature cache, so
a wildcard policy is signed once per key.
"""

from __future__ import annotations

import bisect
import datetime
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

import attrs

from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import check_callable, check_str
from mediastore_ingest.errors import InvalidInputError, NoActiveKeyError
from mediastore_ingest.signing.external import ExternalSigner
from mediastore_ingest.signing.policy import Policy, TimeLike, clock_epoch, to_epoch
from mediastore_ingest.signing.signer import HashAlgorithm, KeySource, UrlSigner

__all__ = ["RotatingUrlSigner", "ScheduledKey"]

logger = logging.getLogger(__name__)

ExpiresLike = TimeLike | datetime.timedelta  # what UrlSigner.sign_url takes


def _active_from(value: TimeLike) -> int:
    return to_epoch(value, name="active_from")


@attrs.frozen
class ScheduledKey:
    """One key of a key group, and from when it signs.

    ``key_id`` is the CloudFront public key ID; ``private_key`` what a
    [`UrlSigner`][mediastore_ingest.signing.UrlSigner] takes (an in-memory key, a key file, or an
    external signer such as [`KmsSigner`][mediastore_ingest.signing.KmsSigner]);
    ``active_from`` an aware datetime or epoch seconds: the moment it becomes the
    signing key (its public key must be in the key group, deployed, by then).
    ``password`` unlocks an encrypted key file. Neither key nor password is shown.
    """

    key_id: str
    private_key: KeySource | ExternalSigner = attrs.field(repr=False, eq=False)
    active_from: int = attrs.field(converter=_active_from)
    password: bytes | str | None = attrs.field(default=None, repr=False, eq=False)


class _Entry(NamedTuple):
    active_from: int
    key: ScheduledKey
    signer: UrlSigner


class _Schedule(NamedTuple):
    starts: tuple[int, ...]
    entries: tuple[_Entry, ...]


class RotatingUrlSigner(UrlSigner):
    """A [`UrlSigner`][mediastore_ingest.signing.UrlSigner] that signs with the key active now.

    ``keys`` are [`ScheduledKey`][mediastore_ingest.signing.ScheduledKey] values (at least one; key
    ids and activation times distinct). ``hash_algorithm`` goes to every key's signer (``None``:
    SHA-256 for an in-memory key, the external signer's own hash otherwise). ``clock`` returns epoch
    seconds; ``cache_size`` bounds each key's signature cache.

    Before the first key's ``active_from`` there is no signing key:
    [`NoActiveKeyError`][mediastore_ingest.errors.NoActiveKeyError]. Safe to share between threads;
    [`add_key`][mediastore_ingest.signing.rotation.RotatingUrlSigner.add_key] and
    [`remove_key`][mediastore_ingest.signing.rotation.RotatingUrlSigner.remove_key] may run while
    others sign.
    """

    # Each key has a UrlSigner of its own; this one chooses and delegates, so the
    # base class's state is never set up (every public method is overridden).
    def __init__(
        self,
        keys: Iterable[ScheduledKey],
        *,
        hash_algorithm: HashAlgorithm | str | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = 256,
    ) -> None:
        check_callable("clock", clock)
        given: object = keys
        if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
            raise InvalidInputError(
                f"keys must be an iterable of ScheduledKey, not {type_name(given)}"
            )
        self._clock = clock
        self._hash_algorithm = hash_algorithm
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._last_key_id: str | None = None
        entries = [self._entry(key) for key in keys]
        if not entries:
            raise InvalidInputError("a RotatingUrlSigner needs at least one ScheduledKey")
        self._schedule = _arrange(entries)

    def _entry(self, key: object) -> _Entry:
        if not isinstance(key, ScheduledKey):
            raise InvalidInputError(f"keys must be ScheduledKey values, not {type_name(key)}")
        signer = UrlSigner(
            key.key_id,
            key.private_key,
            hash_algorithm=self._hash_algorithm,
            password=key.password,
            clock=self._clock,
            cache_size=self._cache_size,
        )
        return _Entry(key.active_from, key, signer)

    # --- choosing the key ----------------------------------------------------------------

    def _time(self, now: TimeLike | None) -> int:
        return to_epoch(now, name="now") if now is not None else clock_epoch(self._clock)

    def _at(self, t: int) -> UrlSigner:
        schedule = self._schedule
        index = bisect.bisect_right(schedule.starts, t) - 1
        if index < 0:
            first = schedule.entries[0]
            raise NoActiveKeyError(
                f"no key is active at epoch {t}: the first, {first.key.key_id}, signs from "
                f"epoch {first.active_from}",
                at=t,
                next_activation=first.active_from,
            )
        entry = schedule.entries[index]
        if entry.key.key_id != self._last_key_id:
            self._last_key_id = entry.key.key_id
            logger.info(
                "signing with key %s (active from epoch %d)", entry.key.key_id, entry.active_from
            )
        return entry.signer

    def active(self, *, now: TimeLike | None = None) -> UrlSigner:
        """The [`UrlSigner`][mediastore_ingest.signing.UrlSigner] of the key active at ``now``
        (default: the clock)."""
        return self._at(self._time(now))

    def next_activation(self, *, now: TimeLike | None = None) -> int | None:
        """When the next scheduled key becomes active (epoch seconds), or ``None``."""
        t = self._time(now)
        schedule = self._schedule
        index = bisect.bisect_right(schedule.starts, t)
        return schedule.starts[index] if index < len(schedule.starts) else None

    @property
    def schedule(self) -> tuple[ScheduledKey, ...]:
        """The keys, oldest activation first."""
        return tuple(entry.key for entry in self._schedule.entries)

    # --- changing the schedule while running ---------------------------------------------

    def add_key(self, key: ScheduledKey) -> None:
        """Schedule another key (its public key must be in the key group, deployed,
        by its ``active_from``). The key is loaded (or its external signer checked)
        before anything changes."""
        entry = self._entry(key)
        with self._lock:
            self._schedule = _arrange([*self._schedule.entries, entry])

    def remove_key(self, key_id: str, *, now: TimeLike | None = None) -> ScheduledKey:
        """Drop a key (a retired one, or a scheduled one not yet active) and return it.
        The key active at ``now`` cannot be removed: schedule its successor first."""
        check_str("key_id", key_id)
        t = self._time(now)
        with self._lock:
            entries = self._schedule.entries
            found = next((e for e in entries if e.key.key_id == key_id), None)
            if found is None:
                raise InvalidInputError(f"no key {key_id!r} in the rotation")
            index = bisect.bisect_right(self._schedule.starts, t) - 1
            if index >= 0 and entries[index] is found:
                raise InvalidInputError(
                    f"key {key_id} is the active key at epoch {t}; schedule its successor "
                    "and remove it after the switch"
                )
            if len(entries) == 1:
                raise InvalidInputError(f"key {key_id} is the only key of the rotation")
            self._schedule = _arrange([e for e in entries if e is not found])
        return found.key

    # --- the UrlSigner interface, answered by the active key -------------------------------

    @property
    def key_id(self) -> str:
        """The CloudFront public key ID of the key active now."""
        return self.active().key_id

    @property
    def hash_algorithm(self) -> HashAlgorithm:
        """The active key's hash: ``"SHA1"`` or ``"SHA256"``."""
        return self.active().hash_algorithm

    @property
    def algorithm(self) -> str:
        """The active key's type, ``"RSA-2048"`` or ``"ECDSA-P256"``."""
        return self.active().algorithm

    def sign(self, message: bytes) -> bytes:
        """The raw signature over ``message`` with the key active now, uncached."""
        return self.active().sign(message)

    def policy_params(self, policy: Policy, *, now: TimeLike | None = None) -> str:
        """CloudFront's query parameters for ``policy``, signed with the key active at
        ``now`` (default: the clock)."""
        t = self._time(now)
        return self._at(t).policy_params(policy, now=t)

    def sign_url(
        self,
        url: str,
        *,
        expires: ExpiresLike | None = None,
        policy: Policy | None = None,
        now: TimeLike | None = None,
    ) -> str:
        """[`UrlSigner.sign_url`][mediastore_ingest.signing.signer.UrlSigner.sign_url] with the
        key active at ``now`` (default: the clock, read once for the key, for a
        relative ``expires`` and for the expiry check)."""
        t = self._time(now)
        return self._at(t).sign_url(url, expires=expires, policy=policy, now=t)

    def sign_cookies(self, policy: Policy, *, now: TimeLike | None = None) -> dict[str, str]:
        """The signed cookies for ``policy``, with the key active at ``now``."""
        t = self._time(now)
        return self._at(t).sign_cookies(policy, now=t)

    def cookie_header(self, policy: Policy, *, now: TimeLike | None = None) -> str:
        """A ``Cookie:`` header value of the signed cookies, with the key active at
        ``now``."""
        t = self._time(now)
        return self._at(t).cookie_header(policy, now=t)

    def set_cookie_headers(
        self,
        policy: Policy,
        *,
        domain: str | None = None,
        path: str = "/",
        secure: bool = True,
        http_only: bool = True,
        same_site: Literal["Strict", "Lax", "None"] | None = None,
        max_age: int | None = None,
        now: TimeLike | None = None,
    ) -> list[str]:
        """``Set-Cookie`` header values for ``policy``, with the key active at ``now``."""
        t = self._time(now)
        return self._at(t).set_cookie_headers(
            policy,
            domain=domain,
            path=path,
            secure=secure,
            http_only=http_only,
            same_site=same_site,
            max_age=max_age,
            now=t,
        )

    def __repr__(self) -> str:
        keys = ", ".join(
            f"{e.key.key_id}@{e.active_from}" for e in self._schedule.entries
        )
        return f"RotatingUrlSigner([{keys}])"


def _arrange(entries: list[_Entry]) -> _Schedule:
    """The entries by activation time; key ids and activation times must be distinct."""
    ordered = sorted(entries, key=lambda e: e.active_from)
    seen: set[str] = set()
    for before, after in itertools.pairwise(ordered):
        if before.active_from == after.active_from:
            raise InvalidInputError(
                f"keys {before.key.key_id} and {after.key.key_id} both activate at epoch "
                f"{after.active_from}; give each key its own time"
            )
    for entry in ordered:
        if entry.key.key_id in seen:
            raise InvalidInputError(f"key {entry.key.key_id} is scheduled twice")
        seen.add(entry.key.key_id)
    return _Schedule(tuple(e.active_from for e in ordered), tuple(ordered))
