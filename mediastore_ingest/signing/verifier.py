"""Verification of CloudFront signed URLs and cookies, as the edge does it.

[`UrlVerifier`][mediastore_ingest.signing.UrlVerifier] checks a request against a key
group: the signature (with ``cryptography``'s own ``verify()``), then the expiry, start
time, client address and resource of the policy it carries.
[`SignedUrl`][mediastore_ingest.signing.SignedUrl] is a signed URL or a set of signed
cookies taken apart; [`parse_cookie_header`][mediastore_ingest.signing.parse_cookie_header]
reads a ``Cookie:`` header. Like the signer it is pure: the clock is a constructor
parameter and ``now=`` overrides it per call.

What anyone may send is kept small: a URL over CloudFront's 8,192 bytes, or cookies
over the 20,480 bytes CloudFront takes for a request's URL and headers, is refused
before any work, and only signatures that verified are remembered.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from urllib.parse import unquote

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mediastore_ingest._internal.b64 import cf_b64decode
from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import check, int_in, is_callable
from mediastore_ingest.errors import (
    InvalidInputError,
    MalformedSignatureError,
    PolicyError,
    PolicyExpiredError,
    PolicyNotYetValidError,
    PolicyParseError,
    ResourceMismatchError,
    SignatureMismatchError,
    SourceIpMismatchError,
    UnknownKeyIdError,
)
from mediastore_ingest.signing.cache import BoundedCache
from mediastore_ingest.signing.keys import (
    PublicKey,
    check_key_id,
    check_public_key,
    load_public_key,
)
from mediastore_ingest.signing.policy import (
    RESERVED_QUERY_PARAMS,
    CannedPolicy,
    CustomPolicy,
    Policy,
    TimeLike,
    already_normal,
    clock_epoch,
    normalize_url,
    normalize_url_uncached,
    read_signed_policy,
    to_epoch,
    wildcard_match,
)
from mediastore_ingest.signing.signer import (
    COOKIE_NAMES,
    HASH_ALGORITHMS,
    MAX_URL_BYTES,
    HashAlgorithm,
)

__all__ = ["PublicKeySource", "SignedUrl", "UrlVerifier", "parse_cookie_header"]

PublicKeySource = PublicKey | bytes | str | os.PathLike[str]

# (signature, key_pair_id, hash_algorithm, expires, policy): SignedUrl's fields after url.
_SigningFields = tuple[str, str, HashAlgorithm, int | None, str | None]
_HASH_NAMES: dict[str, HashAlgorithm] = {"SHA1": "SHA1", "SHA256": "SHA256"}
_PLAIN_DIGITS = re.compile(r"(?:0|[1-9][0-9]*)\Z")
# True when (signature as sent, message) verifies under one key and hash.
_Check = Callable[[str, bytes], bool]
#: CloudFront refuses a request whose URL and headers together are longer than this
#: (bytes): the most signed cookies can be.
MAX_REQUEST_HEAD_BYTES = 20_480
# What a verifier's cache may hold: this many bytes of signatures and policies.
_CACHE_BYTES = 4 << 20
# What the cache says of a canned policy whose signature verified (its policy is
# rebuilt from the request anyway); a custom one's entry is the parsed policy.
_CANNED_VERIFIED = True


def _check_url_size(url: str) -> None:
    """Refuse a URL longer than CloudFront takes, before any work (and without keeping
    it in the error)."""
    if len(url) > MAX_URL_BYTES or (
        not url.isascii() and len(url.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES
    ):
        size = len(url.encode("utf-8", "surrogatepass"))
        raise MalformedSignatureError(
            f"the URL is {size:,} bytes; CloudFront refuses URLs over {MAX_URL_BYTES:,} bytes"
        )


def _check_head_size(size: int) -> None:
    if size > MAX_REQUEST_HEAD_BYTES:
        raise MalformedSignatureError(
            f"the signed cookies are {size:,} bytes; CloudFront takes at most "
            f"{MAX_REQUEST_HEAD_BYTES:,} bytes of URL and headers"
        )


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
        [`MalformedSignatureError`][mediastore_ingest.errors.MalformedSignatureError] when a signing
        parameter is missing, duplicated or both ``Expires`` and ``Policy`` are set."""
        url, fields = _parse_signed_url(signed_url)
        return cls(url, *fields)

    @classmethod
    def from_cookies(cls, url: str, cookies: Mapping[str, str] | str) -> SignedUrl:
        """The same view of a request authorised by signed cookies (a mapping, or a
        ``Cookie:`` header value; a ``CloudFront-*`` cookie sent twice is refused)."""
        if not isinstance(url, str):
            raise InvalidInputError(f"url must be a str, not {type_name(url)}")
        _check_url_size(url)
        if isinstance(cookies, str):
            _check_head_size(len(cookies))
            pairs = _cookie_pairs(cookies)
        elif isinstance(cookies, Mapping):
            pairs = [(str(k), str(v)) for k, v in cookies.items()]
        else:
            raise InvalidInputError(
                f"cookies must be a mapping or a Cookie header str, not {type_name(cookies)}"
            )
        found: dict[str, str] = {}
        for name, value in pairs:
            if name in COOKIE_NAMES:
                short = name[len("CloudFront-") :]
                if short in found:
                    raise MalformedSignatureError(f"cookie {name} appears twice", url=url)
                found[short] = value
        # What could be kept in memory: the signing cookies (a Cookie header was
        # checked whole above).
        _check_head_size(sum(map(len, found.values())))
        return cls(url, *_signing_fields(url, found, prefix="CloudFront-"))


def _parse_signed_url(signed_url: str) -> tuple[str, _SigningFields]:
    """The URL CloudFront matches and the signing fields of a signed URL."""
    if not isinstance(signed_url, str):
        raise MalformedSignatureError("signed URL must be a str")
    _check_url_size(signed_url)
    url, found = _split_signed_url(signed_url)
    return url, _signing_fields(url, found, prefix="")


def _parse_canned_layout(signed_url: str) -> tuple[str, _SigningFields] | None:
    """What ``_parse_signed_url`` returns, for a canned URL in the layout this
    package, botocore and the AWS SDKs write (``?Expires=&Signature=&Key-Pair-Id=``,
    then ``&Hash-Algorithm=SHA256`` or nothing, no percent-escape, the URL already in
    wire form); ``None`` for anything else, which takes the general parser. A few
    ``partition`` calls instead of a loop over the query:
    ``tests/unit/signing/test_signer.py`` holds the two parsers to the same answers.
    The caller has checked the URL's size.
    """
    if type(signed_url) is not str:
        return None
    base, found, rest = signed_url.partition("?Expires=")
    # The first "?" is this one: already_normal takes no "?" in the base.
    if not found or not already_normal(base):
        return None
    expires_text, _, rest = rest.partition("&Signature=")
    signature, _, key_pair_id = rest.partition("&Key-Pair-Id=")
    key_pair_id, more, tail = key_pair_id.partition("&")
    hash_name: HashAlgorithm = "SHA1"
    if more:
        if tail != "Hash-Algorithm=SHA256":
            return None
        hash_name = "SHA256"
    if (
        not signature
        or not key_pair_id
        or "&" in signature
        or "%" in signature
        or "%" in key_pair_id
        or len(expires_text) > 10
        or not _PLAIN_DIGITS.match(expires_text)
    ):
        return None
    return base, (signature, key_pair_id, hash_name, int(expires_text), None)


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
        raise InvalidInputError(f"header must be a str, not {type_name(header)}")
    return dict(_cookie_pairs(header))


class UrlVerifier:
    """Checks signed URLs and cookies as CloudFront does, against trusted keys.

    ``public_keys`` maps key IDs (upper-case letters and digits) to public keys (or
    anything [`load_public_key`][mediastore_ingest.signing.load_public_key] reads): a
    key group. Each failure raises its own
    [`VerificationError`][mediastore_ingest.errors.VerificationError] subclass.
    A signature that verified is remembered by (key, signature, policy), so an edge
    that sees the same wildcard cookie on every request verifies it once; expiry, IP
    and resource are still checked on every call. Failures are never remembered, and
    the cache holds at most ``cache_size`` entries and 4 MiB. ``cache_size=0`` keeps
    nothing at all (not even a normalised URL), for a verifier that sees each URL
    once (a live stream's new segments), where a cache only costs time.
    A URL over CloudFront's 8,192 bytes, or cookies over the 20,480 bytes it takes for
    a request's URL and headers, is a
    [`MalformedSignatureError`][mediastore_ingest.errors.MalformedSignatureError]
    before any other work.
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
            check_key_id(key_id)
            if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
                check_public_key(key)
                keys[key_id] = key
            else:
                keys[key_id] = load_public_key(key)
        self._keys = keys
        self._clock: Callable[[], float] = check("clock", clock, is_callable())
        check("cache_size", cache_size, int_in(0))
        # One ready-made check per (key id, hash): no type tests on the hot path.
        self._checks: dict[tuple[str, str], _Check] = {}
        for key_id, key in keys.items():
            for hash_name in HASH_ALGORITHMS:
                self._checks[key_id, hash_name] = _make_check(key, hash_name)
        # Keyed by the check (one per key id and hash), the signature text and the policy.
        self._verified: BoundedCache[tuple[_Check, str, bytes], CustomPolicy | bool] | None = (
            BoundedCache(cache_size, _CACHE_BYTES) if cache_size else None
        )
        self._normalize = normalize_url if cache_size else normalize_url_uncached

    def __repr__(self) -> str:
        return f"UrlVerifier(key_ids={sorted(self._keys)!r})"

    def verify_url(
        self, signed_url: str, *, now: TimeLike | None = None, client_ip: str | None = None
    ) -> Policy:
        """Verify a signed URL; return the policy it carries, or raise."""
        if isinstance(signed_url, str):
            _check_url_size(signed_url)
        # The same parsing as SignedUrl.parse, without building the SignedUrl.
        url, fields = _parse_canned_layout(signed_url) or _parse_signed_url(signed_url)
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
        """Verify an already parsed [`SignedUrl`][mediastore_ingest.signing.SignedUrl]."""
        if not isinstance(signed, SignedUrl):
            raise InvalidInputError(f"signed must be a SignedUrl, not {type_name(signed)}")
        for name in ("url", "signature", "key_pair_id", "hash_algorithm", "policy"):
            value = getattr(signed, name)
            if not isinstance(value, str) and not (name == "policy" and value is None):
                raise InvalidInputError(
                    f"SignedUrl.{name} must be a str, not {type_name(value)}"
                )
        _check_url_size(signed.url)
        _check_head_size(len(signed.signature) + len(signed.policy or ""))
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
        """The checks, in CloudFront's order, on a request's ``SignedUrl`` fields."""
        signature_check = self._checks.get((key_pair_id, hash_name))
        if signature_check is None:
            if key_pair_id in self._keys:  # only a hand-made SignedUrl gets here
                raise MalformedSignatureError(
                    f"Hash-Algorithm must be SHA1 or SHA256, not {hash_name!r}", url=url
                )
            raise UnknownKeyIdError(f"Key-Pair-Id {key_pair_id!r} is not a trusted key", url=url)
        try:
            normalized = self._normalize(url)
        except PolicyError as exc:
            raise MalformedSignatureError(f"request URL is not acceptable: {exc}", url=url) from exc
        policy: Policy
        if expires is not None:
            try:
                policy = CannedPolicy(normalized, expires)
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
        key = (signature_check, signature, message)
        cache = self._verified
        known = cache.get(key) if cache is not None else None
        if known is None:
            if not signature_check(signature, message):
                raise _mismatch(key_pair_id, url)
            if expires is None:
                known = _parse_signed_policy(message, url)
                size = len(signature) + 2 * len(message)
            else:
                known = _CANNED_VERIFIED
                size = len(signature) + len(message)
            if cache is not None:
                cache.put(key, known, size)
        if isinstance(known, CustomPolicy):
            policy = known
        t = to_epoch(now, name="now") if now is not None else clock_epoch(self._clock)
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
            if policy.resource is not None and not wildcard_match(policy.resource, normalized):
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


def _make_check(key: PublicKey, hash_name: HashAlgorithm) -> _Check:
    """The check of a signature text over a message by ``key`` with ``hash_name``:
    CloudFront base64 decoded, then the key's own ``verify()``."""
    hash_alg = HASH_ALGORITHMS[hash_name]
    if isinstance(key, rsa.RSAPublicKey):
        rsa_verify = key.verify
        pkcs1 = padding.PKCS1v15()

        def check_rsa(signature: str, message: bytes) -> bool:
            try:
                rsa_verify(cf_b64decode(signature), message, pkcs1, hash_alg)
            except (InvalidSignature, ValueError):
                return False
            return True

        return check_rsa
    ec_verify = key.verify
    ecdsa = ec.ECDSA(hash_alg)

    def check_ec(signature: str, message: bytes) -> bool:
        try:
            ec_verify(cf_b64decode(signature), message, ecdsa)
        except (InvalidSignature, ValueError):
            return False
        return True

    return check_ec


def _parse_signed_policy(message: bytes, url: str) -> CustomPolicy:
    try:
        return read_signed_policy(message)
    except PolicyParseError as exc:
        raise MalformedSignatureError(
            f"Policy is not a valid custom policy: {exc}", url=url
        ) from exc
