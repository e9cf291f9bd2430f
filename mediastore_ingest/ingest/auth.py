"""How a request gets authorised at the edge: a canned signed URL per request, a
wildcard policy reused for every URL, or that policy sent as CloudFront signed
cookies; the wildcard policy is re-signed before it expires."""

from __future__ import annotations

import datetime as _dt
import math
import threading
from collections.abc import Callable
from typing import Literal

import attrs

from mediastore_ingest._internal.validate import (
    check,
    check_callable,
    instance_of,
    one_of,
    optional,
)
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.signing.policy import MAX_EPOCH, CustomPolicy
from mediastore_ingest.signing.signer import UrlSigner

__all__ = ["RequestAuth"]


class RequestAuth:
    """Turns an unsigned URL into (URL to send, extra headers).

    ``signer=None``: requests go unsigned. ``auth="url"`` without ``policy``: a canned
    policy per URL, valid for ``url_expiry``; with ``policy`` (a wildcard
    `CustomPolicy`) that policy signs every
    URL. ``auth="cookie"``: the wildcard policy (``base + "/*"`` unless given) goes as
    a ``Cookie`` header. The wildcard policy gets a fresh expiry when less than
    ``margin`` seconds (at most half of ``url_expiry``) are left.
    """

    def __init__(
        self,
        *,
        base: str,
        signer: UrlSigner | None,
        auth: Literal["url", "cookie"],
        policy: CustomPolicy | None,
        url_expiry: _dt.timedelta | int,
        margin: float,
        clock: Callable[[], float],
    ) -> None:
        check("auth", auth, one_of("url", "cookie"))
        check("signer", signer, optional(instance_of(UrlSigner)))
        wildcard = instance_of(CustomPolicy, "a CustomPolicy (a wildcard resource)")
        check("policy", policy, optional(wildcard))
        if policy is not None and signer is None:
            raise InvalidInputError("policy= needs a signer")
        if auth == "cookie" and signer is None:
            raise InvalidInputError("auth='cookie' needs a signer")
        expiry = (
            int(url_expiry.total_seconds())
            if isinstance(url_expiry, _dt.timedelta)
            else url_expiry
        )
        if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 1:
            raise InvalidInputError(f"url_expiry must be at least one second, not {url_expiry!r}")
        check_callable("clock", clock)
        now = clock()
        if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
            raise InvalidInputError(f"clock must return epoch seconds, not {now!r:.40}")
        if now + expiry > MAX_EPOCH:
            raise InvalidInputError(
                f"url_expiry of {expiry} seconds reaches past the last time a CloudFront "
                "policy can name (2038-01-19T03:14:07Z)"
            )
        self.signer = signer
        self.cookie = auth == "cookie"
        self._expiry = expiry
        self._margin = min(margin, expiry / 2)
        self._clock = clock
        self._lock = threading.Lock()
        if signer is not None and policy is None and self.cookie:
            policy = CustomPolicy(base + "/*", int(clock()) + expiry)
        self._policy = policy

    @property
    def mode(self) -> str:
        """``"unsigned"``, ``"url"`` or ``"cookie"``."""
        if self.signer is None:
            return "unsigned"
        return "cookie" if self.cookie else "url"

    def uncovered(self, url: str) -> CustomPolicy | None:
        """The wildcard policy every request is signed with, when it does not cover
        ``url`` (a request it cannot sign); ``None`` otherwise."""
        policy = self._policy
        if self.signer is None or policy is None or policy.matches(url):
            return None
        return policy

    def current_policy(self) -> CustomPolicy:
        """The wildcard policy, renewed when it has less than the margin left."""
        with self._lock:
            assert self._policy is not None
            now = int(self._clock())
            if self._policy.expires - now < self._margin:
                self._policy = attrs.evolve(self._policy, expires=now + self._expiry)
            return self._policy

    def apply(self, url: str) -> tuple[str, dict[str, str]]:
        """The URL to send for ``url`` and the headers to add (a ``Cookie``)."""
        signer = self.signer
        if signer is None:
            return url, {}
        # The signer's own clock decides which key signs and what has expired (a
        # rotating signer picks its key by it); the client's clock sets the expiry.
        if self.cookie:
            return url, {"Cookie": signer.cookie_header(self.current_policy())}
        if self._policy is not None:
            return signer.sign_url(url, policy=self.current_policy()), {}
        return signer.sign_url(url, expires=int(self._clock()) + self._expiry), {}
