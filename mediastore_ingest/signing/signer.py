"""CloudFront signed URLs and signed cookies.

[`UrlSigner`][mediastore_ingest.signing.UrlSigner] turns a policy into the query
parameters (or cookies) CloudFront checks. It is pure: the clock is a constructor
parameter, read to resolve a relative expiry and to refuse a policy that has already
expired, and ``now=`` overrides it per call.

Signing a policy is the only costly step (one private-key operation); a signer keeps
a small cache keyed by the policy, so a wildcard custom policy reused for every
segment of a live stream is signed once.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import time
from collections.abc import Callable
from typing import Literal, cast

from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mediastore_ingest._internal.b64 import cf_b64encode
from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import check, int_in, is_callable
from mediastore_ingest.errors import (
    AlreadyExpiredError,
    HashAlgorithmRefusedError,
    InvalidInputError,
    MediaStoreIngestError,
    PolicyError,
    SigningError,
)
from mediastore_ingest.signing.cache import BoundedCache
from mediastore_ingest.signing.external import ExternalSigner, bind_external, is_external_signer
from mediastore_ingest.signing.keys import (
    PrivateKey,
    check_key_id,
    check_private_key,
    load_private_key,
)
from mediastore_ingest.signing.policy import (
    CannedPolicy,
    CustomPolicy,
    Policy,
    TimeLike,
    clock_epoch,
    normalize_url,
    to_epoch,
    wildcard_match,
)

__all__ = [
    "COOKIE_NAMES",
    "MAX_URL_BYTES",
    "HashAlgorithm",
    "UrlSigner",
]

HashAlgorithm = Literal["SHA1", "SHA256"]
ExpiresLike = TimeLike | _dt.timedelta
KeySource = PrivateKey | bytes | str | os.PathLike[str]

#: The cookie names CloudFront reads, in the order this package writes them.
COOKIE_NAMES = (
    "CloudFront-Expires",
    "CloudFront-Policy",
    "CloudFront-Signature",
    "CloudFront-Key-Pair-Id",
    "CloudFront-Hash-Algorithm",
)
#: CloudFront refuses request URLs longer than this (bytes).
MAX_URL_BYTES = 8192
#: The hash of each ``Hash-Algorithm`` value CloudFront takes (SHA1 when absent).
HASH_ALGORITHMS: dict[HashAlgorithm, hashes.HashAlgorithm] = {
    "SHA1": hashes.SHA1(),
    "SHA256": hashes.SHA256(),
}
#: The hash a signer uses when none is asked for. CloudFront takes SHA-256
#: (``Hash-Algorithm=SHA256``) at every edge since 2026-04; AWS KMS signs with nothing
#: weaker, and hardened OpenSSL policies (RHEL 9, FIPS) refuse SHA-1 signatures.
DEFAULT_HASH_ALGORITHM: HashAlgorithm = "SHA256"
# What a signer's cache may hold: the signed parameters of this many bytes of policies.
_CACHE_BYTES = 1 << 20

_COOKIE_DOMAIN = re.compile(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?\Z")
_COOKIE_PATH = re.compile(r"/[\x21-\x2b\x2d-\x3a\x3c-\x7e]*\Z")  # no ';' ',' CTL SP


def _check_hash(value: object) -> HashAlgorithm:
    if isinstance(value, str) and value.upper().replace("-", "") in HASH_ALGORITHMS:
        return cast(HashAlgorithm, value.upper().replace("-", ""))
    raise InvalidInputError(f"hash_algorithm must be 'SHA1' or 'SHA256', not {value!r}")


def _instant(epoch: int) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_not_expired(expires: int, now: int) -> None:
    """Raise [`AlreadyExpiredError`][mediastore_ingest.errors.AlreadyExpiredError]
    unless ``expires`` is after ``now`` (both epoch seconds)."""
    if expires <= now:
        raise AlreadyExpiredError(
            f"the policy has already expired: it expires at {_instant(expires)} (epoch "
            f"{expires}), not after now, {_instant(now)} (epoch {now}), and CloudFront "
            "refuses a request at or after a policy's expiry; give a later expiry (or "
            "now= to sign as of an earlier time, e.g. to test a refusal)",
            expires=expires,
            now=now,
        )


class UrlSigner:
    """Signs CloudFront URLs and cookies with one key.

    ``private_key`` is a loaded RSA / ECDSA P-256 key or anything
    [`load_private_key`][mediastore_ingest.signing.load_private_key] reads (PEM/DER
    bytes, PEM text, a path), or an
    [`ExternalSigner`][mediastore_ingest.signing.ExternalSigner] holding the key
    elsewhere ([`KmsSigner`][mediastore_ingest.signing.KmsSigner] for AWS KMS).
    ``hash_algorithm`` is ``"SHA256"`` (the default for an in-memory key: CloudFront
    takes it at every edge since 2026-04, and hardened OpenSSL policies refuse SHA-1)
    or ``"SHA1"`` (CloudFront's assumption when a URL names none, for a verifier of
    your own that knows nothing else); an external signer's own hash by default, and a
    different one is refused.
    ``key_id`` is the CloudFront public key ID: upper-case letters and digits.
    ``clock`` returns epoch seconds; it is read to resolve relative expiries
    (``expires=timedelta(...)``) and to refuse a policy that has already expired
    ([`AlreadyExpiredError`][mediastore_ingest.errors.AlreadyExpiredError]); ``now=``
    on each call stands in for it. ``cache_size`` bounds the signature cache (entries;
    it also holds at most 1 MiB of policies).

    The key never appears in ``repr``; the signer is safe to share between threads.
    """

    def __init__(
        self,
        key_id: str,
        private_key: KeySource | ExternalSigner,
        *,
        hash_algorithm: HashAlgorithm | str | None = None,
        password: bytes | str | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = 256,
    ) -> None:
        self._key_id = check_key_id(key_id)
        if is_external_signer(private_key):
            self._hash_name, self._algorithm, self._raw_sign = bind_external(
                cast(ExternalSigner, private_key), hash_algorithm, key_id=key_id, password=password
            )
        else:
            self._hash_name = _check_hash(
                DEFAULT_HASH_ALGORITHM if hash_algorithm is None else hash_algorithm
            )
            self._raw_sign = self._bind_key(cast(KeySource, private_key), password)
        self._clock: Callable[[], float] = check("clock", clock, is_callable())
        check("cache_size", cache_size, int_in(0))
        suffix = f"&Key-Pair-Id={self._key_id}"
        if self._hash_name == "SHA256":
            suffix += "&Hash-Algorithm=SHA256"
        self._url_suffix = suffix
        self._params: BoundedCache[Policy, str] = BoundedCache(cache_size, _CACHE_BYTES)

    def _bind_key(
        self, private_key: KeySource, password: bytes | str | None
    ) -> Callable[[bytes], bytes]:
        """The signing function of an in-memory key (and set ``algorithm``)."""
        if isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            check_private_key(private_key)
            key: PrivateKey = private_key
        else:
            key = load_private_key(private_key, password=password)
        hash_alg = HASH_ALGORITHMS[self._hash_name]
        if isinstance(key, rsa.RSAPrivateKey):
            rsa_key = key
            pkcs1 = padding.PKCS1v15()

            def raw_sign(message: bytes) -> bytes:
                return rsa_key.sign(message, pkcs1, hash_alg)

            self._algorithm = f"RSA-{key.key_size}"
        else:
            ec_key = key
            ecdsa = ec.ECDSA(hash_alg)

            def raw_sign(message: bytes) -> bytes:
                return ec_key.sign(message, ecdsa)

            self._algorithm = "ECDSA-P256"
        return raw_sign

    @property
    def key_id(self) -> str:
        """The CloudFront public key ID (``Key-Pair-Id``)."""
        return self._key_id

    @property
    def hash_algorithm(self) -> HashAlgorithm:
        """``"SHA1"`` or ``"SHA256"``."""
        return self._hash_name

    @property
    def algorithm(self) -> str:
        """The key type, ``"RSA-2048"`` or ``"ECDSA-P256"`` for example."""
        return self._algorithm

    def __repr__(self) -> str:
        return (
            f"UrlSigner(key_id={self._key_id!r}, algorithm={self._algorithm!r}, "
            f"hash_algorithm={self._hash_name!r})"
        )

    # -- primitives ---------------------------------------------------------------------

    def sign(self, message: bytes) -> bytes:
        """The raw signature over ``message`` (policy bytes), uncached.

        A refusal of SHA-1 by the local crypto policy (FIPS, RHEL 9: cryptography's
        ``UnsupportedAlgorithm`` or ``InternalError``) is a
        [`HashAlgorithmRefusedError`][mediastore_ingest.errors.HashAlgorithmRefusedError]
        that says to sign with SHA-256; any other failure a
        [`SigningError`][mediastore_ingest.errors.SigningError].
        """
        if not isinstance(message, bytes):
            raise InvalidInputError("message must be bytes")
        try:
            return self._raw_sign(message)
        except MediaStoreIngestError:  # an external signer's typed error (KMS)
            raise
        except (UnsupportedAlgorithm, InternalError) as exc:
            if self._hash_name == "SHA1":
                raise HashAlgorithmRefusedError(
                    f"the local cryptography library refused to sign with SHA-1 for key "
                    f"{self._key_id} ({exc}); a FIPS, RHEL 9 or other hardened crypto "
                    "policy disables SHA-1 signatures: sign with SHA-256 "
                    "(hash_algorithm='SHA256', --hash-algorithm SHA256), which CloudFront "
                    "takes as Hash-Algorithm=SHA256",
                    hash_algorithm="SHA1",
                ) from exc
            raise SigningError(f"signing with key {self._key_id} failed: {exc}") from exc
        except (ValueError, TypeError) as exc:
            raise SigningError(f"signing with key {self._key_id} failed: {exc}") from exc

    def policy_params(self, policy: Policy, *, now: TimeLike | None = None) -> str:
        """The query string CloudFront needs for ``policy``, e.g.
        ``Expires=…&Signature=…&Key-Pair-Id=…``; cached per policy. A policy that has
        expired by ``now`` (default: the clock) is refused with
        [`AlreadyExpiredError`][mediastore_ingest.errors.AlreadyExpiredError]."""
        if not isinstance(policy, (CannedPolicy, CustomPolicy)):
            raise InvalidInputError(
                f"policy must be a CannedPolicy or CustomPolicy, not {type_name(policy)}"
            )
        t = clock_epoch(self._clock) if now is None else to_epoch(now, name="now")
        if policy.expires <= t:
            check_not_expired(policy.expires, t)
        return self._params.get(policy) or self._sign_params(policy)

    def _sign_params(self, policy: Policy) -> str:
        """The signed parameters of ``policy``, signed now (and kept in the cache)."""
        text = policy.to_json()
        raw = text.encode("utf-8")
        signature = cf_b64encode(self.sign(raw))
        if isinstance(policy, CannedPolicy):
            head = f"Expires={policy.expires}"
        else:
            head = f"Policy={cf_b64encode(raw)}"
        params = f"{head}&Signature={signature}{self._url_suffix}"
        self._params.put(policy, params, len(text) + len(params))
        return params

    # -- URLs -----------------------------------------------------------------------------

    def sign_url(
        self,
        url: str,
        *,
        expires: ExpiresLike | None = None,
        policy: Policy | None = None,
        now: TimeLike | None = None,
    ) -> str:
        """Return ``url`` signed, in the exact form to send.

        Give ``expires`` (aware datetime, epoch seconds, or a ``timedelta`` from
        ``now``/the clock) for a canned policy built from ``url``, or ``policy`` for
        a custom one (then ``url`` must be covered by it). The URL is normalised
        (percent-encoded once, the way a browser sends it), and the result is what
        was signed: never sign one form and send another. An expiry that is not after
        ``now`` (default: the clock) is refused with
        [`AlreadyExpiredError`][mediastore_ingest.errors.AlreadyExpiredError]: give
        ``now=`` to sign as of an earlier time (an expired URL for a test).
        """
        if (expires is None) == (policy is None):
            raise InvalidInputError("give exactly one of expires= (canned) or policy= (custom)")
        t = clock_epoch(self._clock) if now is None else to_epoch(now, name="now")
        if policy is None:
            assert expires is not None
            if isinstance(expires, _dt.timedelta):
                expires = to_epoch(t + int(expires.total_seconds()), name="expires")
            policy = CannedPolicy(url, expires)
            base = policy.resource
        else:
            if not isinstance(policy, (CannedPolicy, CustomPolicy)):
                raise InvalidInputError(
                    f"policy must be a CannedPolicy or CustomPolicy, not {type_name(policy)}"
                )
            base = normalize_url(url)
            # base is normalised already: match it as it is, without normalising again
            resource = policy.resource
            covered = (
                base == resource
                if isinstance(policy, CannedPolicy)
                else resource is None or wildcard_match(resource, base)
            )
            if not covered:
                raise PolicyError(
                    f"URL {base!r} is not covered by the policy resource {resource!r}"
                )
        if policy.expires <= t:
            check_not_expired(policy.expires, t)
        params = self._params.get(policy) or self._sign_params(policy)
        signed = base + ("&" if "?" in base else "?") + params
        if len(signed) > MAX_URL_BYTES:  # ASCII after normalisation: chars == bytes
            raise PolicyError(
                f"the signed URL is {len(signed)} bytes; CloudFront accepts at most "
                f"{MAX_URL_BYTES:,} (use a shorter path, or signed cookies)"
            )
        return signed

    # -- cookies --------------------------------------------------------------------------

    def sign_cookies(self, policy: Policy, *, now: TimeLike | None = None) -> dict[str, str]:
        """The signed cookies for ``policy``: ``CloudFront-Policy`` (custom) or
        ``CloudFront-Expires`` (canned), ``CloudFront-Signature``,
        ``CloudFront-Key-Pair-Id`` and, with SHA-256, ``CloudFront-Hash-Algorithm``.
        A policy that has expired by ``now`` (default: the clock) is refused, as in
        [`sign_url`][mediastore_ingest.signing.signer.UrlSigner.sign_url]."""
        params = self.policy_params(policy, now=now)
        cookies: dict[str, str] = {}
        for pair in params.split("&"):
            name, _, value = pair.partition("=")
            cookies["CloudFront-" + name] = value
        return cookies

    def cookie_header(self, policy: Policy, *, now: TimeLike | None = None) -> str:
        """A ``Cookie:`` request header value carrying the signed cookies (for
        clients such as ffmpeg, curl or GStreamer that set headers, not cookies)."""
        return "; ".join(f"{k}={v}" for k, v in self.sign_cookies(policy, now=now).items())

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
        """``Set-Cookie`` header values a web application returns to hand the signed
        cookies to a viewer (one header per cookie)."""
        attrs_: list[str] = []
        if domain is not None:
            if not isinstance(domain, str) or not _COOKIE_DOMAIN.match(domain):
                raise InvalidInputError(f"invalid cookie domain {domain!r}")
            attrs_.append(f"Domain={domain}")
        if not isinstance(path, str) or not _COOKIE_PATH.match(path):
            raise InvalidInputError(
                f"cookie path must start with '/' and hold no ';', ',' or control "
                f"characters, not {path!r}"
            )
        attrs_.append(f"Path={path}")
        if max_age is not None:
            check("max_age", max_age, int_in(0))
            attrs_.append(f"Max-Age={max_age}")
        if secure:
            attrs_.append("Secure")
        if http_only:
            attrs_.append("HttpOnly")
        if same_site is not None:
            if same_site not in ("Strict", "Lax", "None"):
                raise InvalidInputError(f"same_site must be Strict, Lax or None, not {same_site!r}")
            attrs_.append(f"SameSite={same_site}")
        tail = "; ".join(attrs_)
        return [f"{k}={v}; {tail}" for k, v in self.sign_cookies(policy, now=now).items()]
