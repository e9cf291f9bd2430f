"""CloudFront signatures from a private key that never leaves AWS KMS.

[`KmsSigner`][mediastore_ingest.signing.KmsSigner] is an
[`ExternalSigner`][mediastore_ingest.signing.ExternalSigner]: give it to a
[`UrlSigner`][mediastore_ingest.signing.UrlSigner] in place of a private key::

    kms = KmsSigner("arn:aws:kms:us-west-2:111122223333:key/1234abcd-...", region_name="us-west-2")
    signer = UrlSigner("K2JCJMDEHXQW5F", kms)        # SHA-256: KMS signs nothing else
    public_pem = kms.public_key_pem()                # CloudFront CreatePublicKey's EncodedKey

It calls KMS through a botocore client: yours (``client=``), or one it makes from a
botocore ``session`` (the default session otherwise: the usual credential chain,
profile and Region from the environment) with ``region_name`` and ``endpoint_url``
(a VPC endpoint, or a KMS emulator in tests).

Key specs and algorithms. CloudFront key groups take RSA 2048 and ECDSA P-256 keys and, since
2026-04, SHA-256 signatures; KMS signs with SHA-256 or stronger only. The pairs both sides take are
in ``KMS_KEY_SPECS``: ``RSA_2048`` signing with
``RSASSA_PKCS1_V1_5_SHA_256`` and ``ECC_NIST_P256`` with ``ECDSA_SHA_256``. Any other key
(``RSA_4096``, ``ECC_NIST_P384``, a symmetric or an ``ENCRYPT_DECRYPT`` key) is refused with
[`KmsKeyUsageError`][mediastore_ingest.errors.KmsKeyUsageError].

What is sent. A CloudFront policy is a few hundred bytes, so by default
(``message_type="auto"``) KMS gets the policy itself (``MessageType=RAW``) and hashes it:
nothing of this process sits between the policy and the signature, and a key policy
may require ``kms:MessageType`` ``RAW``. KMS takes at most 4096 bytes that way; a
longer policy (a canned policy for a URL of several kilobytes, a long custom
resource in a cookie) is hashed here with SHA-256 and sent as ``MessageType=DIGEST``.
``message_type="RAW"`` or ``"DIGEST"`` forces one form (for a key policy that
allows only one).

Cost. Every signature is a KMS ``Sign`` request: a network round trip (milliseconds
in the key's Region, more from afar), billed per request and counted against the
account's request quota for the key type. The [`UrlSigner`][mediastore_ingest.signing.UrlSigner]
caches signatures per policy, so:

* a **wildcard channel policy** (``IngestClient(policy=CustomPolicy(".../live/*", ...))``,
  signed cookies, or the signing relay) costs **one** ``Sign`` per policy renewal
  (every few minutes), whatever the number of segments and renditions;
* a **canned URL per segment** (``IngestClient`` without ``policy=``) costs one ``Sign``
  per request: five renditions of 2-second segments are several requests a second,
  about ten million a month per channel, each waiting a KMS round trip.

Use the channel policy with KMS keys.

Errors. KMS and botocore failures become typed errors (see
[`mediastore_ingest.errors`][mediastore_ingest.errors]), each with ``key_id``, ``operation`` and
``code``: [`KmsKeyNotFoundError`][mediastore_ingest.errors.KmsKeyNotFoundError]
(``NotFoundException``), [`KmsKeyUnavailableError`][mediastore_ingest.errors.KmsKeyUnavailableError]
(``DisabledException``, ``KMSInvalidStateException``, ``KeyUnavailableException``),
[`KmsKeyUsageError`][mediastore_ingest.errors.KmsKeyUsageError] (``InvalidKeyUsageException``,
``UnsupportedOperationException``, or a key this module refuses),
[`KmsAccessDeniedError`][mediastore_ingest.errors.KmsAccessDeniedError] (``AccessDeniedException``,
bad or missing credentials), [`KmsThrottlingError`][mediastore_ingest.errors.KmsThrottlingError]
(``ThrottlingException``, after botocore's retries),
[`KmsConnectionError`][mediastore_ingest.errors.KmsConnectionError] (no answer) and
[`KmsError`][mediastore_ingest.errors.KmsError] for anything else.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import botocore.exceptions
import botocore.session
from cryptography.hazmat.primitives.asymmetric import ec

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import check, one_line, one_of, optional, str_items
from mediastore_ingest.errors import (
    InvalidInputError,
    KeyLoadError,
    KmsAccessDeniedError,
    KmsConnectionError,
    KmsError,
    KmsKeyNotFoundError,
    KmsKeyUnavailableError,
    KmsKeyUsageError,
    KmsThrottlingError,
    SigningError,
    UnsupportedKeyError,
)
from mediastore_ingest.signing.keys import PublicKey, load_public_key, public_key_pem

__all__ = ["KMS_KEY_SPECS", "MAX_RAW_MESSAGE_BYTES", "KmsSigner", "MessageType"]

MessageType = Literal["auto", "RAW", "DIGEST"]

#: KMS key spec -> (the key's algorithm as CloudFront sees it, the KMS signing algorithm).
KMS_KEY_SPECS: Mapping[str, tuple[str, str]] = {
    "RSA_2048": ("RSA-2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    "ECC_NIST_P256": ("ECDSA-P256", "ECDSA_SHA_256"),
}
#: The longest message KMS signs as ``MessageType=RAW``.
MAX_RAW_MESSAGE_BYTES = 4096
_MAX_KEY_ID = 2048  # KMS KeyIdType: 1-2048 characters

_NOT_FOUND = frozenset({"NotFoundException", "InvalidArnException"})
_UNAVAILABLE = frozenset(
    {"DisabledException", "KMSInvalidStateException", "KeyUnavailableException"}
)
_USAGE = frozenset({"InvalidKeyUsageException", "UnsupportedOperationException"})
_DENIED = frozenset(
    {
        "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
        "IncompleteSignature", "ExpiredTokenException", "InvalidClientTokenId",
        "MissingAuthenticationToken", "InvalidGrantTokenException",
    }
)
_THROTTLED = frozenset(
    {"ThrottlingException", "Throttling", "LimitExceededException", "TooManyRequestsException"}
)
_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
)
_NO_ANSWER = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


def _translate(exc: Exception, key_id: str, operation: str) -> KmsError:
    """The typed error for a botocore failure of ``operation`` on ``key_id``."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        detail = str(error.get("Message") or "").strip()
        text = f"KMS {operation} for key {key_id} failed: {code}"
        if detail:
            text += f": {detail}"
        kind: type[KmsError] = KmsError
        if code in _NOT_FOUND:
            kind = KmsKeyNotFoundError
            text += " (check the key ARN and the Region)"
        elif code in _UNAVAILABLE:
            kind = KmsKeyUnavailableError
        elif code in _USAGE:
            kind = KmsKeyUsageError
            text += " (CloudFront needs a SIGN_VERIFY key: RSA_2048 or ECC_NIST_P256)"
        elif code in _DENIED:
            kind = KmsAccessDeniedError
            text += f" (the caller needs kms:{operation} on the key)"
        elif code in _THROTTLED:
            kind = KmsThrottlingError
        return kind(text, key_id=key_id, operation=operation, code=code)
    code = type_name(exc)
    if isinstance(exc, _CREDENTIALS):
        return KmsAccessDeniedError(
            f"KMS {operation} for key {key_id}: no usable AWS credentials ({exc})",
            key_id=key_id, operation=operation, code=code,
        )
    if isinstance(exc, _NO_ANSWER):
        return KmsConnectionError(
            f"KMS {operation} for key {key_id}: no answer from KMS ({exc})",
            key_id=key_id, operation=operation, code=code,
        )
    return KmsError(
        f"KMS {operation} for key {key_id} failed: {exc}",
        key_id=key_id, operation=operation, code=code,
    )


def _bare_key_id(name: str) -> str:
    """``1234abcd-...`` of a key ARN (``arn:aws:kms:<region>:<account>:key/1234abcd-...``)."""
    return name.rpartition(":key/")[2] if name.startswith("arn:") else name


def _check_key_spec(key_spec: object, key_id: str, operation: str) -> tuple[str, str]:
    found = KMS_KEY_SPECS.get(key_spec) if isinstance(key_spec, str) else None
    if found is None:
        raise KmsKeyUsageError(
            f"KMS key {key_id} has key spec {shown(key_spec)}; CloudFront key groups take "
            "RSA 2048 and ECDSA P-256 keys, which are KMS key specs RSA_2048 and "
            "ECC_NIST_P256",
            key_id=key_id, operation=operation, code="UnsupportedKeySpec",
        )
    return found


class KmsSigner:
    """Signs with an asymmetric AWS KMS key: an external signer for a
    [`UrlSigner`][mediastore_ingest.signing.UrlSigner].

    ``key_id`` is the key's ARN (a key id or alias works too, but an alias can be
    pointed at another key, whose signatures CloudFront then refuses under the old
    public key; a signature from another key than the one first seen is refused).
    Give a botocore KMS ``client``, or a botocore ``session`` and/or ``region_name``
    and ``endpoint_url`` to make one. ``grant_tokens`` go with every call.

    By default the constructor calls ``GetPublicKey`` once (needs
    ``kms:GetPublicKey``) to learn the key spec and check the key can sign for
    CloudFront, so a wrong key fails at start-up rather than at the first segment.
    Give ``key_spec`` (``"RSA_2048"`` or ``"ECC_NIST_P256"``) to skip that call, for a
    role that may only ``kms:Sign``. ``message_type`` is described in the module
    docstring. Safe to share between threads (botocore clients are).
    """

    def __init__(
        self,
        key_id: str,
        *,
        client: object = None,
        session: object = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        key_spec: str | None = None,
        message_type: MessageType = "auto",
        grant_tokens: Iterable[str] = (),
    ) -> None:
        check("key_id", key_id, one_line(empty=False))
        if len(key_id) > _MAX_KEY_ID:
            raise InvalidInputError(f"key_id is {len(key_id)} characters; KMS takes 1-2048")
        check("message_type", message_type, one_of("auto", "RAW", "DIGEST"))
        self._key_id = key_id
        self._message_type = message_type
        self._grant_tokens = list(str_items(grant_tokens, "grant_tokens")) if grant_tokens else []
        self._client: Any = self._make_client(client, session, region_name, endpoint_url)
        self._lock = threading.Lock()
        self._public_key: PublicKey | None = None
        self._kms_key: str | None = None  # the key id GetPublicKey named
        if key_spec is None:
            self._key_spec, (self._algorithm, self._signing_algorithm) = self._fetch()
        else:
            self._key_spec = key_spec
            self._algorithm, self._signing_algorithm = _check_key_spec(key_spec, key_id, "Sign")

    def _make_client(
        self, client: object, session: object, region_name: str | None, endpoint_url: str | None
    ) -> Any:
        if client is not None:
            if session is not None or region_name is not None or endpoint_url is not None:
                raise InvalidInputError(
                    "give client= or session=/region_name=/endpoint_url=, not both"
                )
            if not callable(getattr(client, "sign", None)):
                raise InvalidInputError(
                    f"client must be a botocore KMS client, not {type_name(client)}"
                )
            return client
        for name, value in (("region_name", region_name), ("endpoint_url", endpoint_url)):
            check(name, value, optional(one_line(empty=False)))
        made: Any = session if session is not None else botocore.session.get_session()
        if not callable(getattr(made, "create_client", None)):
            raise InvalidInputError(
                f"session must be a botocore Session, not {type_name(session)}"
            )
        try:
            return made.create_client("kms", region_name=region_name, endpoint_url=endpoint_url)
        except botocore.exceptions.NoRegionError as exc:
            raise InvalidInputError(
                "no AWS Region for KMS: give region_name= (--region) or set AWS_REGION"
            ) from exc
        except ValueError as exc:  # botocore: "Invalid endpoint: ..."
            raise InvalidInputError(f"cannot make a KMS client: {exc}") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise _translate(exc, self._key_id, "CreateClient") from exc

    def _fetch(self) -> tuple[str, tuple[str, str]]:
        """Call GetPublicKey; check the key; remember the public key and the ARN."""
        key_id = self._key_id
        operation = "GetPublicKey"
        kwargs: dict[str, Any] = {"KeyId": key_id}
        if self._grant_tokens:
            kwargs["GrantTokens"] = self._grant_tokens
        try:
            answer = self._client.get_public_key(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise _translate(exc, key_id, operation) from exc
        usage = answer.get("KeyUsage")
        if usage != "SIGN_VERIFY":
            raise KmsKeyUsageError(
                f"KMS key {key_id} has key usage {shown(usage)}; CloudFront signing needs a "
                "SIGN_VERIFY key (RSA_2048 or ECC_NIST_P256)",
                key_id=key_id, operation=operation, code="WrongKeyUsage",
            )
        # KeySpec; moto and older answers carry only the deprecated CustomerMasterKeySpec.
        spec = answer.get("KeySpec") or answer.get("CustomerMasterKeySpec")
        found = _check_key_spec(spec, key_id, operation)
        offered = answer.get("SigningAlgorithms")
        if offered is not None and found[1] not in offered:
            raise KmsKeyUsageError(
                f"KMS key {key_id} does not offer {found[1]} (it offers {shown(offered)})",
                key_id=key_id, operation=operation, code="UnsupportedSigningAlgorithm",
            )
        self._public_key = self._load(answer.get("PublicKey"), found[0])
        named = answer.get("KeyId")
        self._kms_key = _bare_key_id(named) if isinstance(named, str) else None
        return str(spec), found

    def _load(self, der: object, algorithm: str) -> PublicKey:
        if not isinstance(der, bytes):
            raise KeyLoadError(f"KMS GetPublicKey for key {self._key_id} returned no public key")
        try:
            key = load_public_key(der)
        except (KeyLoadError, UnsupportedKeyError) as exc:
            raise KeyLoadError(
                f"KMS GetPublicKey for key {self._key_id}: the public key is not usable: {exc}"
            ) from exc
        kind = "ECDSA-P256" if isinstance(key, ec.EllipticCurvePublicKey) else "RSA-2048"
        if kind != algorithm:
            raise KmsKeyUsageError(
                f"KMS key {self._key_id}: its public key is {kind}, not {algorithm}",
                key_id=self._key_id, operation="GetPublicKey", code="UnexpectedPublicKey",
            )
        return key

    # --- the ExternalSigner protocol -----------------------------------------------------

    @property
    def algorithm(self) -> str:
        """``"RSA-2048"`` or ``"ECDSA-P256"``."""
        return self._algorithm

    @property
    def hash_algorithm(self) -> Literal["SHA256"]:
        """Always ``"SHA256"``: KMS offers no SHA-1 signing algorithm."""
        return "SHA256"

    def sign(self, message: bytes) -> bytes:
        """One KMS ``Sign`` call: the signature over ``message`` (CloudFront's form)."""
        if not isinstance(message, bytes):
            raise InvalidInputError("message must be bytes")
        mode = self._message_type
        if mode == "auto":
            mode = "RAW" if len(message) <= MAX_RAW_MESSAGE_BYTES else "DIGEST"
        if mode == "RAW":
            if not 1 <= len(message) <= MAX_RAW_MESSAGE_BYTES:
                raise SigningError(
                    f"the message is {len(message)} bytes; KMS signs 1-{MAX_RAW_MESSAGE_BYTES} "
                    "bytes as MessageType=RAW (use message_type='auto' or 'DIGEST')"
                )
            payload = message
        else:
            payload = hashlib.sha256(message).digest()
        kwargs: dict[str, Any] = {
            "KeyId": self._key_id,
            "Message": payload,
            "MessageType": mode,
            "SigningAlgorithm": self._signing_algorithm,
        }
        if self._grant_tokens:
            kwargs["GrantTokens"] = self._grant_tokens
        try:
            answer = self._client.sign(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise _translate(exc, self._key_id, "Sign") from exc
        signature = answer.get("Signature")
        signed_by = answer.get("KeyId")
        known = self._kms_key
        if known is not None and isinstance(signed_by, str) and _bare_key_id(signed_by) != known:
            raise KmsKeyUsageError(
                f"KMS signed with key {signed_by}, not {known} whose public key was read "
                f"(was the alias {self._key_id} pointed at another key?)",
                key_id=self._key_id, operation="Sign", code="KeyChanged",
            )
        if not isinstance(signature, bytes):
            raise KmsError(
                f"KMS Sign for key {self._key_id} returned no signature",
                key_id=self._key_id, operation="Sign", code="NoSignature",
            )
        return signature

    # --- the public half, for CloudFront ---------------------------------------------------

    @property
    def key_id(self) -> str:
        """The KMS key as given (ARN, key id or alias)."""
        return self._key_id

    @property
    def key_spec(self) -> str:
        """``"RSA_2048"`` or ``"ECC_NIST_P256"``."""
        return self._key_spec

    @property
    def signing_algorithm(self) -> str:
        """The KMS signing algorithm used: ``RSASSA_PKCS1_V1_5_SHA_256`` or ``ECDSA_SHA_256``."""
        return self._signing_algorithm

    def public_key(self) -> PublicKey:
        """The public key (one ``GetPublicKey`` call the first time, if the constructor
        made none)."""
        with self._lock:
            if self._public_key is None:
                spec, _ = self._fetch()
                if spec != self._key_spec:
                    raise KmsKeyUsageError(
                        f"KMS key {self._key_id} has key spec {spec}, not {self._key_spec} "
                        "as given to KmsSigner",
                        key_id=self._key_id, operation="GetPublicKey", code="KeySpecMismatch",
                    )
            assert self._public_key is not None
            return self._public_key

    def public_key_pem(self) -> str:
        """The SubjectPublicKeyInfo PEM CloudFront's ``CreatePublicKey`` takes as
        ``EncodedKey`` (KMS returns it DER-encoded)."""
        return public_key_pem(self.public_key())

    def __repr__(self) -> str:
        return f"KmsSigner(key_id={self._key_id!r}, algorithm={self._algorithm!r})"
