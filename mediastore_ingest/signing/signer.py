"""CloudFront signed URLs and signed cookies.

:class:`UrlSigner` turns a policy into the query parameters (or cookies) CloudFront
checks. It is pure: the clock is a constructor parameter, read only to resolve a
relative expiry, and ``now=`` overrides it per call.

Signing a policy is the only costly step (one private-key operation); a signer keeps
a small cache keyed by the policy, so a wildcard custom policy reused for every
segment of a live stream is signed once.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
import time
from collections.abc import Callable
from typing import Literal, cast

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mediastore_ingest._internal.b64 import cf_b64encode
from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import check, int_in, is_callable
from mediastore_ingest.errors import (
    InvalidInputError,
    MediaStoreIngestError,
    PolicyError,
    SigningError,
)
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

_COOKIE_DOMAIN = re.compile(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?\Z")
_COOKIE_PATH = re.compile(r"/[\x21-\x2b\x2d-\x3a\x3c-\x7e]*\Z")  # no ';' ',' CTL SP


def _check_hash(value: object) -> HashAlgorithm:
    if isinstance(value, str) and value.upper().replace("-", "") in HASH_ALGORITHMS:
        return cast(HashAlgorithm, value.upper().replace("-", ""))
    raise InvalidInputError(f"hash_algorithm must be 'SHA1' or 'SHA256', not {value!r}")


def _resolve_expires(expires: ExpiresLike, now: TimeLike | None, clock: Callable[[], float]) -> int:
    if isinstance(expires, _dt.timedelta):
        if expires <= _dt.timedelta(0):
            raise PolicyError(f"expires={expires} is in the past; a relative expiry must be > 0")
        base = to_epoch(now, name="now") if now is not None else clock_epoch(clock)
        return to_epoch(base + int(expires.total_seconds()), name="expires")
    return to_epoch(expires, name="expires")


class UrlSigner:
    """Signs CloudFront URLs and cookies with one key.

    ``private_key`` is a loaded RSA / ECDSA P-256 key or anything
    :func:`~mediastore_ingest.signing.keys.load_private_key` reads (PEM/DER bytes, PEM text,
    a path), or an :class:`~mediastore_ingest.signing.external.ExternalSigner` holding
    the key elsewhere (:class:`~mediastore_ingest.signing.kms.KmsSigner` for AWS KMS).
    ``hash_algorithm`` is ``"SHA1"`` (CloudFront's default, and the default for an
    in-memory key) or ``"SHA256"``; an external signer's own hash by default, and a
    different one is refused.
    ``clock`` returns epoch seconds and is only read to resolve relative expiries
    (``expires=timedelta(...)``). ``cache_size`` bounds the signature cache.

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
            self._hash_name = _check_hash("SHA1" if hash_algorithm is None else hash_algorithm)
            self._raw_sign = self._bind_key(cast(KeySource, private_key), password)
        self._clock: Callable[[], float] = check("clock", clock, is_callable())
        check("cache_size", cache_size, int_in(0))
        suffix = f"&Key-Pair-Id={self._key_id}"
        if self._hash_name == "SHA256":
            suffix += "&Hash-Algorithm=SHA256"
        self._url_suffix = suffix
        self._params_for: Callable[[Policy], str] = functools.lru_cache(maxsize=cache_size)(
            self._params_uncached
        )

    def _bind_key(
        self, private_key: KeySource, password: bytes | str | None
    ) -> Callable[[bytes], bytes]:
        """The signing function of an in-memory key (and set :attr:`algorithm`)."""
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
        """The raw signature over ``message`` (policy bytes), uncached."""
        if not isinstance(message, bytes):
            raise InvalidInputError("message must be bytes")
        try:
            return self._raw_sign(message)
        except MediaStoreIngestError:  # an external signer's typed error (KMS)
            raise
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise SigningError(f"signing with key {self._key_id} failed: {exc}") from exc

    def policy_params(self, policy: Policy) -> str:
        """The query string CloudFront needs for ``policy``, e.g.
        ``Expires=…&Signature=…&Key-Pair-Id=…``; cached per policy."""
        if not isinstance(policy, (CannedPolicy, CustomPolicy)):
            raise InvalidInputError(
                f"policy must be a CannedPolicy or CustomPolicy, not {type_name(policy)}"
            )
        return self._params_for(policy)

    def _params_uncached(self, policy: Policy) -> str:
        text = policy.to_json().encode("utf-8")
        signature = cf_b64encode(self.sign(text))
        if isinstance(policy, CannedPolicy):
            head = f"Expires={policy.expires}"
        else:
            head = f"Policy={cf_b64encode(text)}"
        return f"{head}&Signature={signature}{self._url_suffix}"

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
        (spaces and non-ASCII percent-encoded once), and the result is what was
        signed: never sign one form and send another.
        """
        if (expires is None) == (policy is None):
            raise InvalidInputError("give exactly one of expires= (canned) or policy= (custom)")
        if policy is None:
            assert expires is not None
            policy = CannedPolicy(url, _resolve_expires(expires, now, self._clock))
            base = policy.resource
        else:
            if not isinstance(policy, (CannedPolicy, CustomPolicy)):
                raise InvalidInputError(
                    f"policy must be a CannedPolicy or CustomPolicy, not {type_name(policy)}"
                )
            base = normalize_url(url)
            # base is normalised already: match it as it is, without normalising again
            covered = (
                base == policy.resource
                if isinstance(policy, CannedPolicy)
                else wildcard_match(policy.resource, base)
            )
            if not covered:
                raise PolicyError(
                    f"URL {base!r} is not covered by the policy resource {policy.resource!r}"
                )
        sep = "&" if "?" in base else "?"
        signed = base + sep + self._params_for(policy)
        if len(signed) > MAX_URL_BYTES:  # ASCII after normalisation: chars == bytes
            raise PolicyError(
                f"the signed URL is {len(signed)} bytes; CloudFront accepts at most "
                f"{MAX_URL_BYTES:,} (use a shorter path, or signed cookies)"
            )
        return signed

    # -- cookies --------------------------------------------------------------------------

    def sign_cookies(self, policy: Policy) -> dict[str, str]:
        """The signed cookies for ``policy``: ``CloudFront-Policy`` (custom) or
        ``CloudFront-Expires`` (canned), ``CloudFront-Signature``,
        ``CloudFront-Key-Pair-Id`` and, with SHA-256, ``CloudFront-Hash-Algorithm``."""
        params = self.policy_params(policy)
        cookies: dict[str, str] = {}
        for pair in params.split("&"):
            name, _, value = pair.partition("=")
            cookies["CloudFront-" + name] = value
        return cookies

    def cookie_header(self, policy: Policy) -> str:
        """A ``Cookie:`` request header value carrying the signed cookies (for
        clients such as ffmpeg, curl or GStreamer that set headers, not cookies)."""
        return "; ".join(f"{k}={v}" for k, v in self.sign_cookies(policy).items())

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
        return [f"{k}={v}; {tail}" for k, v in self.sign_cookies(policy).items()]
