"""CloudFront signed URLs and signed cookies, and their verification (layer 4).

:class:`UrlSigner` turns a policy into the query parameters (or cookies) CloudFront
checks; :class:`UrlVerifier` does what the edge does with them. Both are pure: the
clock is a constructor parameter and ``now=`` overrides it per call.

Signing a policy is the only costly step (one private-key operation); a signer keeps
a small cache keyed by the policy, so a wildcard custom policy reused for every
segment of a live stream is signed once.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Literal, cast
from urllib.parse import unquote

import attrs
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mediastore_ingest._internal.b64 import cf_b64decode, cf_b64encode
from mediastore_ingest.errors import (
    InvalidInputError,
    MalformedSignatureError,
    PolicyError,
    PolicyExpiredError,
    PolicyNotYetValidError,
    PolicyParseError,
    ResourceMismatchError,
    SignatureMismatchError,
    SigningError,
    SourceIpMismatchError,
    UnknownKeyIdError,
)
from mediastore_ingest.signing.keys import (
    PrivateKey,
    PublicKey,
    check_private_key,
    check_public_key,
    load_private_key,
    load_public_key,
)
from mediastore_ingest.signing.policy import (
    _CANNED_HEAD,
    _CANNED_MIDDLE,
    _CANNED_TAIL,
    MAX_EPOCH,
    RESERVED_QUERY_PARAMS,
    CannedPolicy,
    CustomPolicy,
    Policy,
    TimeLike,
    _already_normal,
    normalize_url,
    to_epoch,
    wildcard_match,
)

__all__ = [
    "COOKIE_NAMES",
    "MAX_URL_BYTES",
    "HashAlgorithm",
    "SignedUrl",
    "UrlSigner",
    "UrlVerifier",
    "parse_cookie_header",
]

HashAlgorithm = Literal["SHA1", "SHA256"]
ExpiresLike = TimeLike | _dt.timedelta
KeySource = PrivateKey | bytes | str | os.PathLike[str]
PublicKeySource = PublicKey | bytes | str | os.PathLike[str]

#: The cookie names CloudFront reads, in the order this package writes them.
COOKIE_NAMES = (
    "CloudFront-Expires",
    "CloudFront-Policy",
    "CloudFront-Signature",
    "CloudFront-Key-Pair-Id",
    "CloudFront-Hash-Algorithm",
)

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256}
_HASH_OBJECTS: dict[str, hashes.HashAlgorithm] = {"SHA1": hashes.SHA1(), "SHA256": hashes.SHA256()}
_ECDSA = {name: ec.ECDSA(alg) for name, alg in _HASH_OBJECTS.items()}
_PKCS1 = padding.PKCS1v15()
# DER DigestInfo before the digest in a PKCS#1 v1.5 signature (RFC 8017 section 9.2).
_DIGEST_INFO = {
    "SHA1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "SHA256": bytes.fromhex("3031300d060960864801650304020105000420"),
}
_HASHLIB: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
}
# True when (signature as sent, message) verifies under one key and hash.
_Check = Callable[[str, bytes], bool]
_KEY_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _check_hash(value: object) -> HashAlgorithm:
    if isinstance(value, str) and value.upper().replace("-", "") in _HASHES:
        return cast(HashAlgorithm, value.upper().replace("-", ""))
    raise InvalidInputError(f"hash_algorithm must be 'SHA1' or 'SHA256', not {value!r}")


def _check_key_id(value: object) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _KEY_ID_CHARS:
        raise InvalidInputError(
            f"key_id must be a CloudFront public key ID such as 'K2JCJMDEHXQW5F' "
            f"(letters and digits), not {value!r}"
        )
    return value


def _check_clock(clock: object) -> Callable[[], float]:
    if not callable(clock):
        raise InvalidInputError(
            f"clock must be a callable returning epoch seconds, not {type(clock).__name__}"
        )
    return cast("Callable[[], float]", clock)


def _clock_epoch(clock: Callable[[], float]) -> int:
    """``int(clock())``, or a typed error when the clock gives no usable time."""
    value = clock()
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(
            f"clock returned {type(value).__name__} {value!r:.40}, not epoch seconds"
        ) from exc


def _resolve_expires(expires: ExpiresLike, now: TimeLike | None, clock: Callable[[], float]) -> int:
    if isinstance(expires, _dt.timedelta):
        if expires <= _dt.timedelta(0):
            raise PolicyError(f"expires={expires} is in the past; a relative expiry must be > 0")
        base = to_epoch(now, name="now") if now is not None else _clock_epoch(clock)
        return to_epoch(base + int(expires.total_seconds()), name="expires")
    return to_epoch(expires, name="expires")


class UrlSigner:
    """Signs CloudFront URLs and cookies with one key.

    ``private_key`` is a loaded RSA / ECDSA P-256 key or anything
    :func:`~mediastore_ingest.signing.keys.load_private_key` reads (PEM/DER bytes, PEM text,
    a path). ``hash_algorithm`` is ``"SHA1"`` (CloudFront's default) or ``"SHA256"``.
    ``clock`` returns epoch seconds and is only read to resolve relative expiries
    (``expires=timedelta(...)``). ``cache_size`` bounds the signature cache.

    The key never appears in ``repr``; the signer is safe to share between threads.
    """

    def __init__(
        self,
        key_id: str,
        private_key: KeySource,
        *,
        hash_algorithm: HashAlgorithm | str = "SHA1",
        password: bytes | str | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = 256,
    ) -> None:
        self._key_id = _check_key_id(key_id)
        self._hash_name: HashAlgorithm = _check_hash(hash_algorithm)
        if isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            check_private_key(private_key)
            key: PrivateKey = private_key
        else:
            key = load_private_key(private_key, password=password)
        self._key = key
        self._clock = _check_clock(clock)
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise InvalidInputError(f"cache_size must be an int >= 0, not {cache_size!r}")
        hash_alg = _HASHES[self._hash_name]()
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
        self._raw_sign = raw_sign
        suffix = f"&Key-Pair-Id={self._key_id}"
        if self._hash_name == "SHA256":
            suffix += "&Hash-Algorithm=SHA256"
        self._url_suffix = suffix
        self._params_for: Callable[[Policy], str] = functools.lru_cache(maxsize=cache_size)(
            self._params_uncached
        )

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
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise SigningError(f"signing with key {self._key_id} failed: {exc}") from exc

    def policy_params(self, policy: Policy) -> str:
        """The query string CloudFront needs for ``policy``, e.g.
        ``Expires=…&Signature=…&Key-Pair-Id=…``; cached per policy."""
        if not isinstance(policy, (CannedPolicy, CustomPolicy)):
            raise InvalidInputError(
                f"policy must be a CannedPolicy or CustomPolicy, not {type(policy).__name__}"
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
                    f"policy must be a CannedPolicy or CustomPolicy, not {type(policy).__name__}"
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
            if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
                raise InvalidInputError(f"max_age must be an int >= 0, not {max_age!r}")
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


# -- parsing signed requests ----------------------------------------------------------


@attrs.frozen
class SignedUrl:
    """A signed URL taken apart: the URL CloudFront matches (``url``, with the
    signing parameters removed) and the signing parameters."""

    url: str
    signature: str = attrs.field(repr=False)
    key_pair_id: str
    hash_algorithm: HashAlgorithm = "SHA1"
    expires: int | None = None
    policy: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def parse(cls, signed_url: str) -> SignedUrl:
        """Split a signed URL; raises
        :class:`~mediastore_ingest.errors.MalformedSignatureError` when a signing
        parameter is missing, duplicated or both ``Expires`` and ``Policy`` are set."""
        url, fields = _parse_signed_url(signed_url)
        return cls(url, *fields)

    @classmethod
    def from_cookies(cls, url: str, cookies: Mapping[str, str] | str) -> SignedUrl:
        """The same view of a request authorised by signed cookies (a mapping, or a
        ``Cookie:`` header value; a ``CloudFront-*`` cookie sent twice is refused)."""
        if not isinstance(url, str):
            raise InvalidInputError(f"url must be a str, not {type(url).__name__}")
        if isinstance(cookies, str):
            pairs = _cookie_pairs(cookies)
        elif isinstance(cookies, Mapping):
            pairs = [(str(k), str(v)) for k, v in cookies.items()]
        else:
            raise InvalidInputError(
                f"cookies must be a mapping or a Cookie header str, not {type(cookies).__name__}"
            )
        found: dict[str, str] = {}
        for name, value in pairs:
            if name in COOKIE_NAMES:
                short = name[len("CloudFront-") :]
                if short in found:
                    raise MalformedSignatureError(f"cookie {name} appears twice", url=url)
                found[short] = value
        return cls(url, *_signing_fields(url, found, prefix="CloudFront-"))


# (signature, key_pair_id, hash_algorithm, expires, policy): SignedUrl's fields after url.
_SigningFields = tuple[str, str, HashAlgorithm, int | None, str | None]
_HASH_NAMES: dict[str, HashAlgorithm] = {"SHA1": "SHA1", "SHA256": "SHA256"}
_COOKIE_DOMAIN = re.compile(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?\Z")
_COOKIE_PATH = re.compile(r"/[\x21-\x2b\x2d-\x3a\x3c-\x7e]*\Z")  # no ';' ',' CTL SP
#: CloudFront refuses request URLs longer than this (bytes).
MAX_URL_BYTES = 8192
_PLAIN_DIGITS = re.compile(r"(?:0|[1-9][0-9]*)\Z")


def _parse_signed_url(signed_url: str) -> tuple[str, _SigningFields]:
    """The URL CloudFront matches and the signing fields of a signed URL."""
    if not isinstance(signed_url, str):
        raise MalformedSignatureError("signed URL must be a str")
    url, found = _split_signed_url(signed_url)
    return url, _signing_fields(url, found, prefix="")


def _split_signed_url(signed_url: str) -> tuple[str, dict[str, str]]:
    """The URL CloudFront matches (signing parameters removed, other parameters kept
    in order) and the signing parameters found in the query, percent-decoded."""
    base, q, query = signed_url.partition("?")
    found: dict[str, str] = {}
    kept: list[str] | None = None
    if q:
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            if name in RESERVED_QUERY_PARAMS:
                if name in found:
                    raise MalformedSignatureError(
                        f"signing parameter {name} appears twice", url=base
                    )
                # Expires is taken as sent (CloudFront rebuilds the canned policy
                # from it); the base64 values may arrive percent-encoded.
                found[name] = unquote(value) if "%" in value and name != "Expires" else value
            elif kept is None:
                kept = [pair]
            else:
                kept.append(pair)
    url = base if kept is None else base + "?" + "&".join(kept)
    return url, found


def _signing_fields(url: str, found: Mapping[str, str], *, prefix: str) -> _SigningFields:
    """Check the signing parameters (names without ``prefix``) and return them typed."""
    expires_text = found.get("Expires")
    policy = found.get("Policy")
    if (expires_text is None) == (policy is None):
        raise MalformedSignatureError(
            f"exactly one of {prefix}Expires and {prefix}Policy is required", url=url
        )
    signature = found.get("Signature")
    key_pair_id = found.get("Key-Pair-Id")
    if not signature or not key_pair_id:
        missing = "Signature" if not signature else "Key-Pair-Id"
        raise MalformedSignatureError(f"{prefix}{missing} is missing", url=url)
    hash_text = found.get("Hash-Algorithm", "SHA1")
    hash_name = _HASH_NAMES.get(hash_text)
    if hash_name is None:
        raise MalformedSignatureError(
            f"{prefix}Hash-Algorithm must be SHA1 or SHA256, not {hash_text!r}", url=url
        )
    expires = None
    if expires_text is not None:
        if not _PLAIN_DIGITS.match(expires_text):
            raise MalformedSignatureError(f"{prefix}Expires is not an integer", url=url)
        if len(expires_text) > 10:  # past 2147483647; int() of thousands of digits raises
            raise MalformedSignatureError(f"{prefix}Expires is out of range", url=url)
        expires = int(expires_text)
    return signature, key_pair_id, hash_name, expires, policy


def _cookie_pairs(header: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name:
            pairs.append((name, value.strip().strip('"')))
    return pairs


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie:`` header value into a name → value mapping (last one wins)."""
    if not isinstance(header, str):
        raise InvalidInputError(f"header must be a str, not {type(header).__name__}")
    return dict(_cookie_pairs(header))


class UrlVerifier:
    """Checks signed URLs and cookies as CloudFront does, against trusted keys.

    ``public_keys`` maps key IDs to public keys (or anything
    :func:`~mediastore_ingest.signing.keys.load_public_key` reads): a key group. Each failure
    raises its own :class:`~mediastore_ingest.errors.VerificationError` subclass.
    The outcome of each signature check is cached by (key, signature, policy), so an
    edge that sees the same wildcard cookie on every request verifies it once; expiry,
    IP and resource are still checked on every call. ``cache_size=0`` turns the cache
    off, for a verifier that sees each URL once (a live stream's new segments), where
    the cache only costs time (a few per cent per verification).
    """

    def __init__(
        self,
        public_keys: Mapping[str, PublicKeySource],
        *,
        clock: Callable[[], float] = time.time,
        cache_size: int = 1024,
    ) -> None:
        if not isinstance(public_keys, Mapping) or not public_keys:
            raise InvalidInputError("public_keys must be a non-empty mapping of key id -> key")
        keys: dict[str, PublicKey] = {}
        for key_id, key in public_keys.items():
            _check_key_id(key_id)
            if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
                check_public_key(key)
                keys[key_id] = key
            else:
                keys[key_id] = load_public_key(key)
        self._keys = keys
        self._clock = _check_clock(clock)
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise InvalidInputError(f"cache_size must be an int >= 0, not {cache_size!r}")
        # One ready-made check per (key id, hash): no type tests on the hot path.
        self._checks: dict[tuple[str, str], _Check] = {}
        for key_id, key in keys.items():
            for hash_name in _HASH_OBJECTS:
                self._checks[key_id, hash_name] = _make_check(key, hash_name)
        # Keyed by the check (one per key id and hash), the signature text and the policy.
        self._verified: Callable[[_Check, str, bytes], bool] = (
            functools.lru_cache(maxsize=cache_size)(_run_check) if cache_size else _run_check
        )

    def __repr__(self) -> str:
        return f"UrlVerifier(key_ids={sorted(self._keys)!r})"

    def verify_url(
        self, signed_url: str, *, now: TimeLike | None = None, client_ip: str | None = None
    ) -> Policy:
        """Verify a signed URL; return the policy it carries, or raise."""
        # A fast lane for the canned URL as this package, botocore and the AWS SDKs
        # write it: ?Expires=&Signature=&Key-Pair-Id= (a trusted key, SHA-1), no
        # percent-escape, the URL already in wire form and a usable expiry. Every
        # request that could be refused before its signature is checked takes the
        # general path below instead, and tests/test_signing.py holds the two to the
        # same answers. It saves about 1 us of a 25 us RSA-2048 verification.
        if type(signed_url) is str:
            # The first "?" is this one: _already_normal takes no "?" in the base.
            base, found, rest = signed_url.partition("?Expires=")
            if found and _already_normal(base):
                expires_text, _, rest = rest.partition("&Signature=")
                signature, _, key_pair_id = rest.partition("&Key-Pair-Id=")
                check = self._checks.get((key_pair_id, "SHA1"))
                if (
                    check is not None
                    and signature
                    and "&" not in signature
                    and "%" not in signature
                    and "*" not in base
                    and len(expires_text) <= 10
                    and _PLAIN_DIGITS.match(expires_text)
                    and (expires := int(expires_text)) <= MAX_EPOCH
                ):
                    # CannedPolicy.to_json's text, with Expires as sent (no leading 0).
                    message = f"{_CANNED_HEAD}{base}{_CANNED_MIDDLE}{expires_text}{_CANNED_TAIL}"
                    if not self._verified(check, signature, message.encode()):
                        raise _mismatch(key_pair_id, base)
                    policy = CannedPolicy._from_normalized(base, expires)
                    t = to_epoch(now, name="now") if now is not None else _clock_epoch(self._clock)
                    if t >= policy.expires:
                        raise _expired(policy, t, base)
                    return policy
        # The same parsing as SignedUrl.parse, without building the SignedUrl.
        url, fields = _parse_signed_url(signed_url)
        return self._verify_fields(url, *fields, now, client_ip)

    def verify_cookies(
        self,
        url: str,
        cookies: Mapping[str, str] | str,
        *,
        now: TimeLike | None = None,
        client_ip: str | None = None,
    ) -> Policy:
        """Verify a request for ``url`` carrying signed ``cookies`` (a mapping, or a
        ``Cookie:`` header value); return the policy, or raise."""
        return self.verify(SignedUrl.from_cookies(url, cookies), now=now, client_ip=client_ip)

    def verify(
        self, signed: SignedUrl, *, now: TimeLike | None = None, client_ip: str | None = None
    ) -> Policy:
        """Verify an already parsed :class:`SignedUrl`."""
        if not isinstance(signed, SignedUrl):
            raise InvalidInputError(f"signed must be a SignedUrl, not {type(signed).__name__}")
        for name in ("url", "signature", "key_pair_id", "hash_algorithm", "policy"):
            value = getattr(signed, name)
            if not isinstance(value, str) and not (name == "policy" and value is None):
                raise InvalidInputError(
                    f"SignedUrl.{name} must be a str, not {type(value).__name__}"
                )
        if (signed.expires is None) == (signed.policy is None):
            raise MalformedSignatureError(
                "exactly one of Expires and Policy is required", url=signed.url
            )
        return self._verify_fields(
            signed.url,
            signed.signature,
            signed.key_pair_id,
            signed.hash_algorithm,
            signed.expires,
            signed.policy,
            now,
            client_ip,
        )

    def _verify_fields(
        self,
        url: str,
        signature: str,
        key_pair_id: str,
        hash_name: HashAlgorithm,
        expires: int | None,
        policy_text: str | None,
        now: TimeLike | None,
        client_ip: str | None,
    ) -> Policy:
        """The checks, in CloudFront's order, on a request's :class:`SignedUrl` fields."""
        check = self._checks.get((key_pair_id, hash_name))
        if check is None:
            if key_pair_id in self._keys:  # only a hand-made SignedUrl gets here
                raise MalformedSignatureError(
                    f"Hash-Algorithm must be SHA1 or SHA256, not {hash_name!r}", url=url
                )
            raise UnknownKeyIdError(f"Key-Pair-Id {key_pair_id!r} is not a trusted key", url=url)
        try:
            normalized = normalize_url(url)
        except PolicyError as exc:
            raise MalformedSignatureError(f"request URL is not acceptable: {exc}", url=url) from exc
        policy: Policy
        if expires is not None:
            try:
                policy = CannedPolicy._from_normalized(normalized, expires)
            except PolicyError as exc:
                raise MalformedSignatureError(str(exc), url=url) from exc
            message = policy.to_json().encode()
        else:
            assert policy_text is not None
            try:
                message = cf_b64decode(policy_text)
            except ValueError as exc:
                raise MalformedSignatureError(
                    f"Policy is not CloudFront base64: {exc}", url=url
                ) from exc
        # The signature first: untrusted policy JSON is never parsed.
        if not self._verified(check, signature, message):
            raise _mismatch(key_pair_id, url)
        if expires is None:
            policy = _parse_signed_policy(message, url)
        t = to_epoch(now, name="now") if now is not None else _clock_epoch(self._clock)
        if t >= policy.expires:
            raise _expired(policy, t, url)
        if isinstance(policy, CustomPolicy):
            if policy.not_before is not None and t < policy.not_before:
                raise PolicyNotYetValidError(
                    f"not valid before epoch {policy.not_before} (now {t})", url=url
                )
            if policy.source_ip is not None and not policy.is_valid_at(t, client_ip):
                raise SourceIpMismatchError(
                    f"client {client_ip} is outside {policy.source_ip}", url=url
                )
            if not wildcard_match(policy.resource, normalized):
                raise ResourceMismatchError(
                    f"URL is not covered by the policy resource {policy.resource!r}", url=url
                )
        return policy


def _mismatch(key_pair_id: str, url: str) -> SignatureMismatchError:
    return SignatureMismatchError(
        f"signature does not match the policy under key {key_pair_id}", url=url
    )


def _expired(policy: Policy, t: int, url: str) -> PolicyExpiredError:
    return PolicyExpiredError(f"expired at epoch {policy.expires} (now {t})", url=url)


def _run_check(check: _Check, signature: str, message: bytes) -> bool:
    return check(signature, message)


def _make_check(key: PublicKey, hash_name: str) -> _Check:
    # Each check decodes the signature itself: one call per verification, no layers.
    if isinstance(key, rsa.RSAPublicKey):
        # RSASSA-PKCS1-v1_5-VERIFY (RFC 8017 section 8.2.2) in two halves: OpenSSL
        # does RSAVP1 and checks the block (00 01, at least eight FF, 00) and hands
        # back what follows, which must be exactly this hash's DER DigestInfo over
        # the message. That is the comparison verify() makes, without its per-call
        # hashing context (1.5-2 us of 20 for RSA-2048); tests/test_signature_check.py
        # holds the two to the same verdict on forged encodings.
        recover = key.recover_data_from_signature
        size = (key.key_size + 7) // 8
        prefix = _DIGEST_INFO[hash_name]
        new_hash = _HASHLIB[hash_name]

        def check_rsa(signature: str, message: bytes) -> bool:
            try:
                raw = cf_b64decode(signature)
                # verify() also refuses a signature that is not exactly k bytes long.
                return len(raw) == size and hmac.compare_digest(
                    recover(raw, _PKCS1, None), prefix + new_hash(message).digest()
                )
            except (InvalidSignature, ValueError):
                return False

        return check_rsa
    ec_key = key
    ecdsa = _ECDSA[hash_name]

    def check_ec(signature: str, message: bytes) -> bool:
        try:
            ec_key.verify(cf_b64decode(signature), message, ecdsa)
        except (InvalidSignature, ValueError):
            return False
        return True

    return check_ec


def _parse_signed_policy(message: bytes, url: str) -> CustomPolicy:
    try:
        return _parse_custom_cached(message)
    except PolicyParseError as exc:
        raise MalformedSignatureError(
            f"Policy is not a valid custom policy: {exc}", url=url
        ) from exc


@functools.lru_cache(maxsize=1024)
def _parse_custom_cached(message: bytes) -> CustomPolicy:
    return CustomPolicy.from_json(message)
