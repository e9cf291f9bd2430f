"""Load, generate and check the keys CloudFront signs with.

CloudFront accepts two kinds of signing key:

* **key groups** (the recommended way): RSA 2048 or ECDSA P-256;
* **legacy CloudFront key pairs** (root account): RSA 1024, 2048 or 4096.

[`load_private_key`][mediastore_ingest.signing.load_private_key] and
[`load_public_key`][mediastore_ingest.signing.load_public_key] read PEM or DER, PKCS#1, PKCS#8 or
SEC1, encrypted or not, from ``bytes``, PEM text or a file path, and refuse any other key type or
size with [`UnsupportedKeyError`][mediastore_ingest.errors.UnsupportedKeyError]. RSA 1024 and 4096
load with a [`KeySizeWarning`][mediastore_ingest.errors.KeySizeWarning], since only legacy key pairs
take them.

[`generate_key_pair`][mediastore_ingest.signing.generate_key_pair] makes a new key and writes it
safely (the private key file is created with mode 0600, never readable by others even for an
instant); [`public_key_pem`][mediastore_ingest.signing.public_key_pem] gives the text CloudFront's
``CreatePublicKey`` wants as ``EncodedKey``;
[`key_fingerprint`][mediastore_ingest.signing.key_fingerprint] names a key in logs without showing
it.

Nothing here puts key bytes or passwords into a message, a ``repr`` or a log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import stat
import typing
import warnings
from pathlib import Path
from typing import Literal, TypeAlias

import attrs
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import check, int_in
from mediastore_ingest.errors import (
    InvalidInputError,
    KeyLoadError,
    KeyMaterialError,
    KeySizeWarning,
    UnsupportedKeyError,
)

__all__ = [
    "CLOUDFRONT_KEY_REQUIREMENTS",
    "KeyData",
    "KeyPair",
    "PrivateKey",
    "PublicKey",
    "check_private_key",
    "check_public_key",
    "generate_key_pair",
    "key_fingerprint",
    "load_private_key",
    "load_public_key",
    "public_key_pem",
]

logger = logging.getLogger(__name__)

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""A private key CloudFront can sign with: RSA or ECDSA P-256."""

PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
"""The public half of a [`PrivateKey`][mediastore_ingest.signing.PrivateKey]."""

KeyData: TypeAlias = bytes | str | os.PathLike[str]
"""Where a key comes from: PEM/DER ``bytes``, PEM text, or a file path.

A ``str`` containing ``-----BEGIN`` is PEM text; any other ``str`` is a path.
"""

CLOUDFRONT_KEY_REQUIREMENTS = (
    "CloudFront key groups take RSA 2048 or ECDSA P-256 (secp256r1) keys; "
    "legacy CloudFront key pairs take RSA 1024, 2048 or 4096"
)
"""What CloudFront accepts, as the error messages of this module say it."""

_RSA_SIZES = frozenset({1024, 2048, 4096})
_RSA_LEGACY_ONLY = frozenset({1024, 4096})
_CURVE = "secp256r1"
# A key file is a few kilobytes; refuse to slurp a video someone pointed us at.
_MAX_KEY_FILE = 1 << 20

_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_PRIVATE_LABELS = frozenset(
    {
        b"PRIVATE KEY",
        b"ENCRYPTED PRIVATE KEY",
        b"RSA PRIVATE KEY",
        b"EC PRIVATE KEY",
        b"DSA PRIVATE KEY",
    }
)
_PUBLIC_LABELS = frozenset({b"PUBLIC KEY", b"RSA PUBLIC KEY"})


# --- checks --------------------------------------------------------------------------


def _describe(key: object) -> str:
    """A short human name for a key object's type (never its contents)."""
    name = type_name(key).lstrip("_")
    for suffix in ("PrivateKey", "PublicKey"):
        if name.endswith(suffix) and name != suffix:
            return name.removesuffix(suffix)
    return name


_ANY_PRIVATE = typing.get_args(PrivateKeyTypes)
_ANY_PUBLIC = typing.get_args(PublicKeyTypes)
# As plain tuples of classes, so a check on an annotated value stays reachable for mypy.
_RSA_EC_PRIVATE: tuple[type, ...] = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)
_RSA_EC_PUBLIC: tuple[type, ...] = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)


def _check(key: object, *, private: bool, warn: bool, stacklevel: int) -> None:
    """Raise unless ``key`` is a key CloudFront accepts; warn for legacy-only sizes."""
    if private:
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        is_ec = isinstance(key, ec.EllipticCurvePrivateKey)
        same, other = _ANY_PRIVATE, _ANY_PUBLIC
    else:
        is_rsa = isinstance(key, rsa.RSAPublicKey)
        is_ec = isinstance(key, ec.EllipticCurvePublicKey)
        same, other = _ANY_PUBLIC, _ANY_PRIVATE
    if is_rsa:
        size: int = key.key_size  # type: ignore[attr-defined]
        if size not in _RSA_SIZES:
            raise UnsupportedKeyError(
                f"RSA {size}-bit keys are not accepted: {CLOUDFRONT_KEY_REQUIREMENTS}"
            )
        if warn and size in _RSA_LEGACY_ONLY:
            _warn_size(size, stacklevel + 1)
        return
    if is_ec:
        curve: str = key.curve.name  # type: ignore[attr-defined]
        if curve != _CURVE:
            raise UnsupportedKeyError(
                f"ECDSA keys on curve {curve} are not accepted: {CLOUDFRONT_KEY_REQUIREMENTS}"
            )
        return
    want, other_kind = ("private", "public") if private else ("public", "private")
    if isinstance(key, same):
        raise UnsupportedKeyError(
            f"{_describe(key)} keys are not accepted: {CLOUDFRONT_KEY_REQUIREMENTS}"
        )
    if isinstance(key, other):
        raise InvalidInputError(f"a {other_kind} key was given where a {want} key is needed")
    raise InvalidInputError(
        f"expected a cryptography {want} key object, got {type_name(key)}"
    )


def _warn_size(size: int, stacklevel: int) -> None:
    warnings.warn(
        f"RSA {size}-bit key: key groups take RSA 2048 or ECDSA P-256 only; "
        f"legacy key pairs accept 1024/4096",
        KeySizeWarning,
        stacklevel=stacklevel + 1,
    )


def check_private_key(key: object, *, stacklevel: int = 2) -> PrivateKey:
    """Return ``key`` if CloudFront can sign with it, else raise.

    Raises [`UnsupportedKeyError`][mediastore_ingest.errors.UnsupportedKeyError] for DSA, Ed25519,
    Ed448, X25519/X448, EC curves other than P-256 and RSA sizes other than
    1024/2048/4096, and [`InvalidInputError`][mediastore_ingest.errors.InvalidInputError] for
    anything that is not a private key object. Warns with
    [`KeySizeWarning`][mediastore_ingest.errors.KeySizeWarning] for RSA 1024 and 4096
    (legacy key pairs only). ``stacklevel`` is passed on to `warnings.warn` as
    seen from the caller (2: the line that called this function).
    """
    _check(key, private=True, warn=True, stacklevel=stacklevel)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return key


def check_public_key(key: object, *, stacklevel: int = 2) -> PublicKey:
    """Return ``key`` if it is a public key CloudFront accepts, else raise.

    The same rules (and the same warning) as
    [`check_private_key`][mediastore_ingest.signing.check_private_key].
    """
    _check(key, private=False, warn=True, stacklevel=stacklevel)
    assert isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey))
    return key


_KEY_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


_KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_key_id() -> str:
    """A fresh id in the form CloudFront gives public keys (``K2JCJMDEHXQW5F``: 14
    upper-case letters and digits), for keys made on this machine (the demo, the
    local stack)."""
    return "K" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(13))


def check_key_id(value: object) -> str:
    """Return ``value`` if it can be a CloudFront public key ID (``Key-Pair-Id``):
    upper-case letters and digits, such as ``K2JCJMDEHXQW5F`` (or a legacy key pair's
    ``APKAEIBAERJR2EXAMPLE``); else raise
    [`InvalidInputError`][mediastore_ingest.errors.InvalidInputError]. CloudFront's
    IDs are upper-case and it compares them as they are, so a lower-case one (a
    mangled copy) is refused here rather than by the edge, with the likely ID named."""
    if isinstance(value, str) and value and set(value) <= _KEY_ID_CHARS:
        return value
    shown_value = shown(value)
    if isinstance(value, str) and value and set(value.upper()) <= _KEY_ID_CHARS:
        raise InvalidInputError(
            f"key_id {shown_value} has lower-case letters; CloudFront key IDs are "
            f"upper-case letters and digits: did you mean {shown(value.upper())}?"
        )
    raise InvalidInputError(
        f"key_id must be a CloudFront public key ID such as 'K2JCJMDEHXQW5F' "
        f"(upper-case letters and digits), not {shown_value}"
    )


# --- loading -------------------------------------------------------------------------


def _utf8(text: str) -> bytes | None:
    """``text`` as UTF-8, or ``None`` if it cannot be (a lone surrogate).

    No exception escapes: a `UnicodeEncodeError` holds the whole text, which
    may be a password or a key, and would ride along as ``__context__``.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _password_bytes(password: str | bytes | None) -> bytes | None:
    value: object = password
    if value is None:
        return None
    if isinstance(value, str):
        encoded = _utf8(value)
        if encoded is None:
            raise InvalidInputError(
                "password is not valid Unicode text (it holds a lone surrogate)"
            )
        value = encoded
    elif isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
    else:
        raise InvalidInputError(f"password must be str or bytes, got {type_name(value)}")
    # An empty password means "none": cryptography treats b"" as missing for an
    # encrypted key but as given for a plain one, which only confuses.
    return value or None


# A str without "-----BEGIN" is read as a path, but it may be key material pasted
# without its PEM lines (base64 DER, a PEM body): such a str is never put into a
# message. A path is shown only when it cannot be that: no control character (a PEM
# body has newlines), not over 1024 characters, no run of 40 base64 letters without a
# "/", "-", "_" or "." (real file names have separators; base64 rarely has any), and
# not entirely base64.
_MAX_SHOWN_PATH = 1024
_KEY_TEXT_RUN = re.compile(r"[A-Za-z0-9+=]{40,}", re.ASCII)
_ALL_BASE64 = re.compile(r"\s*(?:[A-Za-z0-9+/]{64,}|[A-Za-z0-9_-]{64,})={0,2}\s*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _may_be_key_text(path: str) -> bool:
    """Whether a str taken for a path might be key material (and so must not be shown)."""
    return (
        len(path) > _MAX_SHOWN_PATH
        or _CONTROL.search(path) is not None
        or _KEY_TEXT_RUN.search(path) is not None
        or _ALL_BASE64.fullmatch(path) is not None
    )


def _read(data: object, what: str) -> tuple[bytes, str]:
    """Key bytes and a description of where they came from (for messages)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), f"the {what} data"
    if isinstance(data, str) and "-----BEGIN" in data:
        encoded = _utf8(data)
        if encoded is None:
            raise KeyLoadError(f"the {what} PEM text is not valid text (a lone surrogate)")
        return encoded, f"the {what} PEM text"
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if isinstance(data, str) and _may_be_key_text(path):
            return _read_unshown(path, what)
        source = f"{what} file {path!r}"
        try:
            with open(path, "rb") as fh:
                raw = fh.read(_MAX_KEY_FILE + 1)
        except FileNotFoundError as exc:
            raise KeyLoadError(f"{source} does not exist") from exc
        except IsADirectoryError as exc:
            raise KeyLoadError(f"{source} is a directory") from exc
        except OSError as exc:
            raise KeyLoadError(f"cannot read {source}: {exc.strerror or exc}") from exc
        except ValueError as exc:  # embedded NUL and the like
            raise KeyLoadError(f"{what} path {path!r} is not a valid path") from exc
        if len(raw) > _MAX_KEY_FILE:
            raise KeyLoadError(f"{source} is too large to be a key")
        return raw, source
    raise InvalidInputError(
        f"a {what} must be bytes, PEM text or a path, got {type_name(data)}"
    )


def _read_unshown(path: str, what: str) -> tuple[bytes, str]:
    """`_read` for a str that may be key text: it appears in no message, and no
    exception naming it (``OSError.filename``) is chained or left as ``__context__``."""
    problem: str | None = None
    raw = b""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_KEY_FILE + 1)
    except FileNotFoundError:
        problem = "the path of an existing file"
    except OSError as exc:
        problem = f"the path of a readable file ({exc.strerror or type_name(exc)})"
    except ValueError:  # embedded NUL, unencodable
        problem = "a file name (it is not a valid path)"
    if problem is not None:
        # Raised here, outside the handler, so nothing holding the str is chained.
        raise KeyLoadError(
            f"the {what} str is neither PEM text (no '-----BEGIN' line) nor {problem}; "
            "it is not shown, as it may be key material"
        )
    source = f"the {what} file (its name is not shown: it looks like key text)"
    if len(raw) > _MAX_KEY_FILE:
        raise KeyLoadError(f"{source} is too large to be a key")
    return raw, source


def _labels(raw: bytes) -> list[bytes]:
    return _PEM_LABEL.findall(raw)


def _not_a_private_key(raw: bytes, source: str) -> KeyLoadError | None:
    """A helpful error when the data is clearly something other than a private key."""
    labels = _labels(raw)
    if any(label in _PRIVATE_LABELS for label in labels):
        return None
    if b"OPENSSH PRIVATE KEY" in labels:
        return KeyLoadError(
            f"{source} is in OpenSSH format; convert it to PKCS#8 PEM with "
            f"'ssh-keygen -p -m PKCS8 -f FILE' (on a copy)"
        )
    if any(label in _PUBLIC_LABELS for label in labels):
        return KeyLoadError(f"{source} holds a public key, not a private key")
    if b"CERTIFICATE" in labels:
        return KeyLoadError(f"{source} holds a certificate, not a private key")
    if labels:
        names = ", ".join(sorted({label.decode("ascii") for label in labels}))
        return KeyLoadError(f"{source} holds no private key (PEM blocks: {names})")
    return None


def _not_a_public_key(raw: bytes, source: str) -> KeyLoadError | None:
    """A helpful error when the data is clearly something other than a public key."""
    labels = _labels(raw)
    if any(label in _PUBLIC_LABELS for label in labels):
        return None
    if any(label in _PRIVATE_LABELS or label == b"OPENSSH PRIVATE KEY" for label in labels):
        return KeyLoadError(
            f"{source} holds a private key; give the public key "
            f"(see public_key_pem() or 'mediastore-ingest public-key')"
        )
    if b"CERTIFICATE" in labels:
        return KeyLoadError(
            f"{source} holds a certificate; CloudFront wants the bare public key "
            f"('openssl x509 -pubkey -noout -in FILE')"
        )
    if labels:
        names = ", ".join(sorted({label.decode("ascii") for label in labels}))
        return KeyLoadError(f"{source} holds no public key (PEM blocks: {names})")
    if raw.lstrip().startswith((b"ssh-", b"ecdsa-sha2-")):
        return KeyLoadError(
            f"{source} is an OpenSSH public key; CloudFront wants PEM "
            f"('ssh-keygen -e -m PKCS8 -f FILE')"
        )
    return None


def _is_pem(raw: bytes) -> bool:
    return b"-----BEGIN" in raw


def _truncated_pem(raw: bytes, source: str) -> KeyLoadError | None:
    if _is_pem(raw) and b"-----END" not in raw:
        return KeyLoadError(f"{source} is PEM without an END line (truncated?)")
    return None


def load_private_key(data: KeyData | PrivateKey, password: str | bytes | None = None) -> PrivateKey:
    """Load an RSA or ECDSA P-256 private key CloudFront can sign with.

    ``data`` is PEM or DER ``bytes`` (autodetected), PEM text (a ``str`` containing
    ``-----BEGIN``), or a path (any other ``str``, or an `os.PathLike`). PKCS#1
    (``RSA PRIVATE KEY``), PKCS#8 (``PRIVATE KEY``, ``ENCRYPTED PRIVATE KEY``) and SEC1
    (``EC PRIVATE KEY``) are read, including OpenSSL's traditional PEM encryption.
    ``password`` (``str`` or ``bytes``) decrypts an encrypted key. An already loaded
    key object is checked and returned.

    Raises [`KeyLoadError`][mediastore_ingest.errors.KeyLoadError] for unreadable data, a
    missing or wrong password or a password for an unencrypted key, and
    [`UnsupportedKeyError`][mediastore_ingest.errors.UnsupportedKeyError] for a key CloudFront
    refuses. Warns with [`KeySizeWarning`][mediastore_ingest.errors.KeySizeWarning] for RSA
    1024/4096.
    """
    if isinstance(data, _ANY_PRIVATE + _ANY_PUBLIC):
        return check_private_key(data, stacklevel=3)
    secret = _password_bytes(password)
    raw, source = _read(data, "private key")
    problem = _not_a_private_key(raw, source) or _truncated_pem(raw, source)
    if problem is not None:
        raise problem
    if _is_pem(raw) and sum(label in _PRIVATE_LABELS for label in _labels(raw)) > 1:
        raise KeyLoadError(f"{source} holds more than one private key")
    loader = (
        serialization.load_pem_private_key if _is_pem(raw) else serialization.load_der_private_key
    )
    try:
        key = loader(raw, secret)
    except TypeError as exc:
        # cryptography's only TypeErrors here: a password is missing, or superfluous.
        if secret is None:
            raise KeyLoadError(f"{source} is encrypted; a password is needed") from exc
        raise KeyLoadError(
            f"{source} is not encrypted, but a password was given"
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise UnsupportedKeyError(
            f"{source} uses a key type or encryption this library cannot read: "
            f"{CLOUDFRONT_KEY_REQUIREMENTS}"
        ) from exc
    except ValueError as exc:
        if secret is not None:
            raise KeyLoadError(
                f"cannot decrypt {source}: wrong password, or the data is damaged"
            ) from exc
        if not _is_pem(raw):
            hint = _der_hint(raw, private=True)
            if hint:
                raise KeyLoadError(f"{source} {hint}") from exc
        raise KeyLoadError(f"{source} {_not_valid(raw, 'private')}") from exc
    return check_private_key(key, stacklevel=3)


def load_public_key(data: KeyData | PublicKey) -> PublicKey:
    """Load an RSA or ECDSA P-256 public key.

    Reads a SubjectPublicKeyInfo (``PUBLIC KEY``, what CloudFront stores) or a PKCS#1 RSA public key
    (``RSA PUBLIC KEY``), PEM or DER, from the same inputs as
    [`load_private_key`][mediastore_ingest.signing.load_private_key]. Certificates and private keys
    are refused with a hint. An already loaded public key object is checked and returned.

    Raises [`KeyLoadError`][mediastore_ingest.errors.KeyLoadError] or
    [`UnsupportedKeyError`][mediastore_ingest.errors.UnsupportedKeyError]; warns with
    [`KeySizeWarning`][mediastore_ingest.errors.KeySizeWarning] for RSA 1024/4096.
    """
    if isinstance(data, _ANY_PRIVATE + _ANY_PUBLIC):
        return check_public_key(data, stacklevel=3)
    raw, source = _read(data, "public key")
    problem = _not_a_public_key(raw, source) or _truncated_pem(raw, source)
    if problem is not None:
        raise problem
    loader = (
        serialization.load_pem_public_key if _is_pem(raw) else serialization.load_der_public_key
    )
    try:
        key = loader(raw)
    except UnsupportedAlgorithm as exc:
        raise UnsupportedKeyError(
            f"{source} uses a key type this library cannot read: {CLOUDFRONT_KEY_REQUIREMENTS}"
        ) from exc
    except ValueError as exc:
        if not _is_pem(raw):
            hint = _der_hint(raw, private=False)
            if hint:
                raise KeyLoadError(f"{source} {hint}") from exc
        raise KeyLoadError(f"{source} {_not_valid(raw, 'public')}") from exc
    return check_public_key(key, stacklevel=3)


def _not_valid(raw: bytes, kind: str) -> str:
    if _is_pem(raw):
        return f"is not a valid PEM {kind} key (damaged or truncated?)"
    return f"is neither PEM nor a valid DER {kind} key (damaged or truncated?)"


def _der_hint(raw: bytes, *, private: bool) -> str | None:
    """Whether DER data that failed to load is the other kind of key."""
    try:
        if private:
            serialization.load_der_public_key(raw)
            return "holds a public key, not a private key"
        serialization.load_der_private_key(raw, None)
    except TypeError:  # an encrypted private key
        return None if private else "holds an encrypted private key, not a public key"
    except (ValueError, UnsupportedAlgorithm):
        return None
    return "holds a private key; give the public key"


# --- public key text and fingerprint -------------------------------------------------


def _public_of(key: object) -> PublicKey:
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return key.public_key()
    if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        return key
    raise InvalidInputError(
        f"expected an RSA or EC key object, got {type_name(key)}"
    )


def public_key_pem(key: PrivateKey | PublicKey) -> str:
    """The SubjectPublicKeyInfo PEM of ``key`` (private or public), as CloudFront wants it.

    This is the ``EncodedKey`` of ``CreatePublicKey``'s ``PublicKeyConfig``:
    ``-----BEGIN PUBLIC KEY-----`` … ``-----END PUBLIC KEY-----`` and a final newline. The key
    is checked like [`check_public_key`][mediastore_ingest.signing.check_public_key] (refused if
    CloudFront would refuse it; a [`KeySizeWarning`][mediastore_ingest.errors.KeySizeWarning] for
    RSA 1024/4096).
    """
    public = _public_of(key)
    _check(public, private=False, warn=True, stacklevel=2)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return pem if pem.endswith("\n") else pem + "\n"


def key_fingerprint(key: PrivateKey | PublicKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo of ``key`` (private or public).

    The same for a private key and its public key; safe to log. Equivalent to
    ``openssl pkey -pubout -outform DER | sha256sum``.
    """
    der = _public_of(key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


# --- key pairs -----------------------------------------------------------------------


def _check_pair_private(instance: object, attribute: object, value: PrivateKey) -> None:
    if not isinstance(value, _RSA_EC_PRIVATE):
        raise InvalidInputError(
            f"private_key must be an RSA or EC private key, got {type_name(value)}"
        )
    _check(value, private=True, warn=False, stacklevel=1)


def _check_pair_public(instance: object, attribute: object, value: PublicKey) -> None:
    if not isinstance(value, _RSA_EC_PUBLIC):
        raise InvalidInputError(
            f"public_key must be an RSA or EC public key, got {type_name(value)}"
        )
    private = instance.private_key  # type: ignore[attr-defined]
    if key_fingerprint(value) != key_fingerprint(private):
        raise InvalidInputError("public_key is not the public half of private_key")


def _public_repr(key: PublicKey) -> str:
    kind = f"RSA-{key.key_size}" if isinstance(key, rsa.RSAPublicKey) else "ECDSA-P256"
    return f"<{kind} public key sha256:{key_fingerprint(key)[:16]}>"


def _derive_public(pair: KeyPair) -> PublicKey:
    # attrs runs validators after every default, so check before using the key.
    _check_pair_private(pair, None, pair.private_key)
    return pair.private_key.public_key()


@attrs.frozen
class KeyPair:
    """A private key and its public key.

    ``public_key`` defaults to the public half of ``private_key``. The private key
    never appears in ``repr``.
    """

    private_key: PrivateKey = attrs.field(repr=False, validator=_check_pair_private)
    public_key: PublicKey = attrs.field(
        default=attrs.Factory(_derive_public, takes_self=True),
        validator=_check_pair_public,
        repr=_public_repr,
    )

    def public_key_pem(self) -> str:
        """The public key as the PEM text CloudFront's ``CreatePublicKey`` wants."""
        return _spki_pem(self.public_key)

    def fingerprint(self) -> str:
        """[`key_fingerprint`][mediastore_ingest.signing.key_fingerprint] of the key pair."""
        return key_fingerprint(self.public_key)

    @property
    def algorithm(self) -> str:
        """``"RSA-2048"``, ``"ECDSA-P256"`` and so on: what the key is, for messages."""
        if isinstance(self.public_key, rsa.RSAPublicKey):
            return f"RSA-{self.public_key.key_size}"
        return "ECDSA-P256"


def _spki_pem(public: PublicKey) -> str:
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return pem if pem.endswith("\n") else pem + "\n"


# --- generation ----------------------------------------------------------------------


def _check_target(value: object, name: str) -> Path | None:
    """``value`` as a `Path` to write to, or a typed error naming ``name``."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidInputError(
            f"{name} must be a str or os.PathLike path, got {type_name(value)}"
        )
    path = os.fspath(value)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise InvalidInputError(f"{name} is empty")
    if "\0" in path:
        raise InvalidInputError(f"{name} holds a NUL character; it is not a valid path")
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        encodable = False
    else:
        encodable = True
    if not encodable:
        raise InvalidInputError(
            f"{name} cannot be encoded for the file system (it holds a lone surrogate)"
        )
    return Path(path)


def _check_writable(path: Path, *, overwrite: bool) -> None:
    """Raise, naming ``path``, unless a key file can be written there: its directory
    exists, and it is not a directory (nor, without ``overwrite``, an existing file)."""
    parent = path.parent
    try:
        st = os.stat(parent)
    except FileNotFoundError as exc:
        raise KeyMaterialError(
            f"cannot write {str(path)!r}: the directory {str(parent)!r} does not exist"
        ) from exc
    except OSError as exc:
        raise KeyMaterialError(
            f"cannot write {str(path)!r}: {str(parent)!r}: {exc.strerror or exc}"
        ) from exc
    if not stat.S_ISDIR(st.st_mode):
        raise KeyMaterialError(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory")
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise KeyMaterialError(
            f"refusing to overwrite existing file {str(path)!r} (pass overwrite=True)"
        )
    if os.path.isdir(path) and not os.path.islink(path):
        raise KeyMaterialError(f"cannot write {str(path)!r}: it is a directory")


def _sibling(path: Path, suffix: str) -> Path:
    """A fresh hidden name beside ``path`` (for a temporary file or a backup)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.{suffix}")


def _write_files(files: list[tuple[Path, bytes, int]], *, overwrite: bool) -> None:
    """Write every file or none, each created with its final mode from the start.

    Without ``overwrite`` each target is created with ``O_EXCL`` (an existing file,
    even one appearing in a race, is refused). With it, each file is written to a
    fresh temporary file beside the target and renamed over it, so an existing
    world-readable file never holds the new private key; see `_replace_all`
    for how a failed rename is undone. Errors name the target, never a temporary file.
    """
    created: list[Path] = []  # to remove if anything fails
    staged: list[tuple[Path, Path]] = []  # (temporary file, target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    target = files[0][0] if files else Path()
    try:
        for target, content, mode in files:
            path = _sibling(target, "tmp") if overwrite else target
            fd = os.open(path, flags, mode)
            created.append(path)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            if overwrite:
                staged.append((path, target))
    except FileExistsError as exc:
        _remove(created)
        raise KeyMaterialError(
            f"refusing to overwrite existing file {str(target)!r} (pass overwrite=True)"
        ) from exc
    except OSError as exc:
        _remove(created)
        raise KeyMaterialError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from exc
    except BaseException:
        _remove(created)
        raise
    if staged:
        _replace_all(staged)


def _replace_all(staged: list[tuple[Path, Path]]) -> None:
    """Rename each temporary file over its target, the first one (the private key) last.

    The private key's rename is the commit point. Before a target other than the
    private key is replaced, the file there is kept under a backup name. If anything
    fails or is interrupted before the commit point, the targets already replaced get
    their old files back (or are removed if there was none); after it, the new files
    stay. Which renames happened is read from the disk (is the temporary file still
    there?), not from this loop's bookkeeping, since an interrupt can land between a
    rename and the next line. Temporary files and backups are removed either way.
    """
    order = staged[::-1]
    kept: dict[Path, tuple[Path, bool]] = {}  # target -> (backup, moved aside)
    try:
        for tmp, target in order[:-1]:
            if os.path.lexists(target):
                kept[target] = _keep(target)
            os.replace(tmp, target)
        os.replace(*order[-1])
    except BaseException as exc:
        if not os.path.lexists(order[-1][0]):  # past the commit point: the new pair stays
            _remove([backup for backup, _ in kept.values()])
            raise
        # The first target whose temporary file is still there is the one that failed.
        failed = next(target for tmp, target in order if os.path.lexists(tmp))
        lost = [
            f"the previous {str(target)!r} is kept as {str(kept[target][0])!r}"
            for tmp, target in order[:-1]
            if not _roll_back(tmp, target, kept.get(target))
        ]
        _remove([tmp for tmp, _ in order if os.path.lexists(tmp)])
        if not isinstance(exc, OSError):
            raise
        note = f"; {', '.join(lost)}" if lost else ""
        raise KeyMaterialError(
            f"cannot write {str(failed)!r}: {exc.strerror or exc}{note}"
        ) from exc
    _remove([backup for backup, _ in kept.values()])


def _keep(target: Path) -> tuple[Path, bool]:
    """Keep the file at ``target`` under a backup name: a hard link, or where the file
    system has none, the file itself moved aside (then ``True``)."""
    backup = _sibling(target, "bak")
    try:
        if os.link in os.supports_follow_symlinks:
            os.link(target, backup, follow_symlinks=False)
        else:  # pragma: no cover - platform dependent
            os.link(target, backup)
    except OSError:  # no hard links on this file system
        os.replace(target, backup)
        return backup, True
    return backup, False


def _roll_back(tmp: Path, target: Path, kept: tuple[Path, bool] | None) -> bool:
    """Undo what was done to ``target``; false if its old file could not be put back
    (it stays at its backup name)."""
    replaced = not os.path.lexists(tmp)
    if kept is None:  # there was no file at target before
        if replaced:
            _remove([target])
        return True
    backup, moved = kept
    if replaced or moved:
        return _restore(target, backup)
    _remove([backup])
    return True


def _restore(target: Path, backup: Path) -> bool:
    try:
        os.replace(backup, target)
    except OSError:
        logger.warning("could not restore %s from %s after a failed key write", target, backup)
        return False
    return True


def _remove(paths: list[Path]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except OSError:  # pragma: no cover - best effort cleanup
            logger.warning("could not remove %s after a failed key write", path)


def generate_key_pair(
    private_key_path: str | os.PathLike[str] | None = None,
    public_key_path: str | os.PathLike[str] | None = None,
    *,
    algorithm: Literal["rsa", "ecdsa"] = "rsa",
    rsa_bits: int = 2048,
    password: str | bytes | None = None,
    overwrite: bool = False,
) -> KeyPair:
    """Generate a new signing key pair, optionally writing it to files.

    ``algorithm="rsa"`` makes an RSA key of ``rsa_bits`` (2048, CloudFront's key-group
    default; 1024/4096 warn with [`KeySizeWarning`][mediastore_ingest.errors.KeySizeWarning]);
    ``"ecdsa"`` an ECDSA P-256 key (``rsa_bits`` is then ignored).

    ``private_key_path`` receives the private key as PKCS#8 PEM, encrypted with
    ``password`` if one is given, in a file created with mode 0600.
    ``public_key_path`` receives the SubjectPublicKeyInfo PEM (mode 0644, less the
    umask). Existing files are refused with
    [`KeyMaterialError`][mediastore_ingest.errors.KeyMaterialError] unless ``overwrite`` is true.
    Both targets are checked before anything is written (a missing directory or a
    directory in the way is an error naming the target), and a failed write leaves no
    partial or temporary file behind and no existing file replaced.
    """
    algo = algorithm.lower() if isinstance(algorithm, str) else algorithm
    if algo == "rsa":
        check("rsa_bits", rsa_bits, int_in())
        if rsa_bits not in _RSA_SIZES:
            raise UnsupportedKeyError(
                f"RSA {rsa_bits}-bit keys are not accepted: {CLOUDFRONT_KEY_REQUIREMENTS}"
            )
        if rsa_bits in _RSA_LEGACY_ONLY:
            _warn_size(rsa_bits, 2)
    elif algo != "ecdsa":
        raise UnsupportedKeyError(
            f"algorithm must be 'rsa' or 'ecdsa', got {shown(algorithm)}: "
            f"{CLOUDFRONT_KEY_REQUIREMENTS}"
        )
    secret = _password_bytes(password)  # checks the type (and the text) first
    if password is not None and secret is None:
        raise InvalidInputError(
            "an empty password would leave the private key unencrypted; "
            "pass password=None for an unencrypted key"
        )
    private_path = _check_target(private_key_path, "private_key_path")
    public_path = _check_target(public_key_path, "public_key_path")
    if secret is not None and private_path is None:
        raise InvalidInputError("a password only applies when private_key_path is given")
    paths = [p for p in (private_path, public_path) if p is not None]
    if len(paths) == 2 and os.path.abspath(paths[0]) == os.path.abspath(paths[1]):
        raise InvalidInputError("private_key_path and public_key_path are the same file")
    for path in paths:
        _check_writable(path, overwrite=overwrite)

    key: PrivateKey
    if algo == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    pair = KeyPair(key)

    files: list[tuple[Path, bytes, int]] = []
    if private_path is not None:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(secret)
            if secret is not None
            else serialization.NoEncryption()
        )
        files.append(
            (
                private_path,
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
                ),
                0o600,
            )
        )
    if public_path is not None:
        files.append((public_path, pair.public_key_pem().encode("ascii"), 0o644))
    if files:
        _write_files(files, overwrite=overwrite)
        logger.info(
            "generated %s key pair sha256:%s", pair.algorithm, pair.fingerprint()
        )
    return pair
