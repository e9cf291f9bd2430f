"""Every exception this package raises, under one root.

Catch [`MediaStoreIngestError`][mediastore_ingest.errors.MediaStoreIngestError] to catch
them all, or a family to catch one kind of failure. Errors caused by bad input also derive
from `ValueError`, so code that already guards a call with ``except ValueError`` keeps
working::

    MediaStoreIngestError
    ├── InvalidInputError (ValueError) ........ bad argument to a public call
    ├── PolicyError (ValueError) .............. a CloudFront policy that cannot be built
    │   └── PolicyParseError .................. policy JSON CloudFront would not accept
    ├── KeyMaterialError ...................... loading / generating keys
    │   ├── KeyLoadError (ValueError) ......... unreadable, wrong password, not a key
    │   └── UnsupportedKeyError (ValueError) .. a key type or size CloudFront refuses
    ├── SigningError .......................... the private-key operation failed
    │   ├── NoActiveKeyError .................. a key rotation has no key active yet
    │   └── KmsError .......................... an AWS KMS call failed (key id, operation, code)
    │       ├── KmsKeyNotFoundError (KeyLoadError) ....... no such key or alias
    │       ├── KmsKeyUnavailableError ........ disabled, pending deletion, key store down
    │       ├── KmsKeyUsageError (UnsupportedKeyError) ... not a key CloudFront can take
    │       ├── KmsAccessDeniedError .......... IAM or key policy, or no credentials
    │       ├── KmsThrottlingError ............ over the KMS request quota
    │       └── KmsConnectionError ............ KMS unreachable or too slow
    ├── VerificationError ..................... a signed URL / cookie set is not valid
    │   ├── MalformedSignatureError ........... missing or undecodable parameters
    │   ├── UnknownKeyIdError ................. Key-Pair-Id not in the trusted set
    │   ├── SignatureMismatchError ............ signature does not match the policy
    │   ├── PolicyExpiredError ................ now >= DateLessThan
    │   ├── PolicyNotYetValidError ............ now < DateGreaterThan
    │   ├── SourceIpMismatchError ............. client address outside AWS:SourceIp
    │   └── ResourceMismatchError ............. URL not covered by the policy Resource
    ├── ContainerPolicyError (ValueError) ..... container / bucket policy problems
    │   └── UnsupportedPolicyFeatureError ..... an operator or element we cannot evaluate
    ├── DistributionConfigError (ValueError) .. a distribution config CloudFront refuses
    ├── ProvisioningError ..................... an AWS control-plane call failed
    ├── IngestError ........................... moving media through the edge
    │   ├── InvalidPathError (ValueError) ..... an object path the origin would refuse
    │   ├── InvalidContentTypeError (ValueError)
    │   ├── ObjectTooLargeError (ValueError) .. over the origin's size limit; not sent
    │   ├── TransportError .................... connection, TLS or timeout failure
    │   ├── HTTPStatusError ................... the edge / origin answered non-2xx
    │   │   ├── AccessDeniedError ............. 403
    │   │   └── ObjectNotFoundError ........... 404
    │   ├── BodyNotRetryableError ............. a failed body that cannot be re-sent
    │   └── RetriesExhaustedError ............. gave up after the retry budget
    ├── LocalStackError ....................... the local test stack failed to start
    │   └── RequestBodyError .................. a local server could not read a request body
    └── RelayError ............................ the signing relay could not start or misbehaved

Warnings have their own root, so ``-W error::mediastore_ingest.MediaStoreIngestWarning``
(or a pytest ``filterwarnings`` entry) can turn them all into errors::

    MediaStoreIngestWarning (UserWarning)
    └── KeySizeWarning ........................ RSA 1024/4096: legacy key pairs only

Every error has a ``hint`` attribute: ``None``, or one sentence on what to check (a
403 from the edge names the key id and the likely cause, an S3 checksum mismatch says
to use ``origin="s3"``), often with a link to the troubleshooting guide. The command
line prints it on a ``hint:`` line. Give it as the keyword ``hint=`` to any of them.

No message, ``repr`` or attribute of these errors ever contains a private key, a
signature secret or an ingest secret.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AlreadyExpiredError",
    "BodyNotRetryableError",
    "ContainerPolicyError",
    "DistributionConfigError",
    "HTTPStatusError",
    "HashAlgorithmRefusedError",
    "IngestError",
    "InvalidContentTypeError",
    "InvalidInputError",
    "InvalidPathError",
    "KeyLoadError",
    "KeyMaterialError",
    "KeySizeWarning",
    "KmsAccessDeniedError",
    "KmsConnectionError",
    "KmsError",
    "KmsKeyNotFoundError",
    "KmsKeyUnavailableError",
    "KmsKeyUsageError",
    "KmsThrottlingError",
    "LocalStackError",
    "MalformedSignatureError",
    "MediaStoreIngestError",
    "MediaStoreIngestWarning",
    "NoActiveKeyError",
    "ObjectNotFoundError",
    "ObjectTooLargeError",
    "PolicyError",
    "PolicyExpiredError",
    "PolicyNotYetValidError",
    "PolicyParseError",
    "ProvisioningError",
    "RelayError",
    "RequestBodyError",
    "ResourceMismatchError",
    "RetriesExhaustedError",
    "SignatureMismatchError",
    "SigningError",
    "SourceIpMismatchError",
    "TransportError",
    "UnknownKeyIdError",
    "UnsupportedKeyError",
    "UnsupportedPolicyFeatureError",
    "VerificationError",
]


class MediaStoreIngestError(Exception):
    """Root of every error raised by `mediastore_ingest`.

    ``hint`` is what to check, in one sentence, or ``None`` (keyword only, so every
    subclass keeps its positional arguments).
    """

    hint: str | None = None

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        self.hint = hint


class InvalidInputError(MediaStoreIngestError, ValueError):
    """An argument to a public call is not acceptable."""


# --- CloudFront policies -------------------------------------------------------------


class PolicyError(MediaStoreIngestError, ValueError):
    """A CloudFront canned or custom policy cannot be built as asked."""


class PolicyParseError(PolicyError):
    """Policy JSON that CloudFront would not accept."""


# --- keys ----------------------------------------------------------------------------


class KeyMaterialError(MediaStoreIngestError):
    """Family of errors about key material."""


class KeyLoadError(KeyMaterialError, ValueError):
    """Key bytes could not be read: bad encoding, wrong or missing password."""


class UnsupportedKeyError(KeyMaterialError, ValueError):
    """A key CloudFront does not accept (type, curve or size)."""


# --- warnings ------------------------------------------------------------------------


class MediaStoreIngestWarning(UserWarning):
    """Root of every warning issued by `mediastore_ingest`."""


class KeySizeWarning(MediaStoreIngestWarning):
    """An RSA 1024 or 4096 key: only legacy CloudFront key pairs accept it.

    CloudFront key groups take RSA 2048 or ECDSA P-256 only.
    """


# --- signing and verification --------------------------------------------------------


class SigningError(MediaStoreIngestError):
    """The private-key operation failed."""


class NoActiveKeyError(SigningError):
    """A key rotation holds no key whose activation time has come.

    ``at`` is the time asked about (epoch seconds), ``next_activation`` when the
    first key becomes active.
    """

    def __init__(
        self, message: str, *, at: int, next_activation: int | None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.at = at
        self.next_activation = next_activation


class KmsError(SigningError):
    """An AWS KMS call failed.

    ``key_id`` is the KMS key (as given: key id, key ARN or alias), ``operation`` the
    KMS API operation (``Sign``, ``GetPublicKey``) and ``code`` the AWS error code (or
    botocore's exception name when no answer came). ``retryable`` is true for failures
    that may pass if the same call is made again later (throttling, a connection
    failure, a KMS internal error).
    """

    #: AWS error codes that describe a passing condition.
    TRANSIENT_CODES = frozenset(
        {"KMSInternalException", "DependencyTimeoutException", "KeyUnavailableException"}
    )

    def __init__(
        self,
        message: str,
        *,
        key_id: str | None,
        operation: str,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.key_id = key_id
        self.operation = operation
        self.code = code

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later."""
        return self.code in self.TRANSIENT_CODES


class KmsKeyNotFoundError(KmsError, KeyLoadError):
    """No KMS key or alias of that name in the account and Region asked."""


class KmsKeyUnavailableError(KmsError):
    """The KMS key exists but cannot sign now: disabled (``DisabledException``),
    pending deletion or import (``KMSInvalidStateException``), or its custom key store
    is unreachable (``KeyUnavailableException``)."""


class KmsKeyUsageError(KmsError, UnsupportedKeyError):
    """The KMS key cannot sign for CloudFront: not a ``SIGN_VERIFY`` key, or a key spec
    or signing algorithm CloudFront does not take (key groups take ``RSA_2048`` with
    ``RSASSA_PKCS1_V1_5_SHA_256`` and ``ECC_NIST_P256`` with ``ECDSA_SHA_256``)."""


class KmsAccessDeniedError(KmsError):
    """KMS refused the caller: the IAM policy or the key policy does not allow the
    operation (``kms:Sign``, ``kms:GetPublicKey``), or the credentials are missing,
    expired or wrong."""


class KmsThrottlingError(KmsError):
    """KMS throttled the request (over the account's request quota for the key type),
    after botocore's own retries."""

    @property
    def retryable(self) -> bool:
        """Always true: a throttled call may pass later."""
        return True


class KmsConnectionError(KmsError):
    """No answer from KMS: the endpoint could not be reached, the connection broke or
    the call timed out (after botocore's own retries)."""

    @property
    def retryable(self) -> bool:
        """Always true: the network may come back."""
        return True


class VerificationError(MediaStoreIngestError):
    """A signed URL or a set of signed cookies is not valid.

    ``url`` is the URL that was checked with the signature parameters removed.
    """

    def __init__(self, message: str, *, url: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url


class MalformedSignatureError(VerificationError):
    """Signature parameters are missing, duplicated or undecodable."""


class UnknownKeyIdError(VerificationError):
    """The Key-Pair-Id is not one of the trusted public keys."""


class SignatureMismatchError(VerificationError):
    """The signature does not match the policy under the named key."""


class PolicyExpiredError(VerificationError):
    """The request arrived at or after the policy's ``DateLessThan``."""


class PolicyNotYetValidError(VerificationError):
    """The request arrived before the policy's ``DateGreaterThan``."""


class SourceIpMismatchError(VerificationError):
    """The client address is outside the policy's ``AWS:SourceIp``."""


class ResourceMismatchError(VerificationError):
    """The request URL is not covered by the policy's ``Resource``."""


# --- origin policies, distributions, provisioning ------------------------------------


class ContainerPolicyError(MediaStoreIngestError, ValueError):
    """A container (or bucket) policy is malformed or cannot be built."""


class UnsupportedPolicyFeatureError(ContainerPolicyError):
    """A policy uses an element or operator the offline evaluator does not implement.

    Raised instead of guessing, so an unknown condition never becomes a silent allow.
    """


class DistributionConfigError(MediaStoreIngestError, ValueError):
    """A CloudFront distribution config that CloudFront would refuse."""


class ProvisioningError(MediaStoreIngestError):
    """An AWS control-plane call failed.

    ``operation`` is the API operation, ``code`` the AWS error code when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.operation = operation
        self.code = code


# --- ingest --------------------------------------------------------------------------


class IngestError(MediaStoreIngestError):
    """Family of errors raised while moving media to or from the origin.

    ``path`` is the object path concerned, when there is one. ``attempts`` is how many
    requests were made before the error (``None`` when none was, or it is not known).
    """

    attempts: int | None = None

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        hint: str | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.attempts = attempts


class InvalidPathError(IngestError, ValueError):
    """An object path the origin would refuse; no request was sent."""


class InvalidContentTypeError(IngestError, ValueError):
    """A Content-Type the origin would refuse; no request was sent."""


class ObjectTooLargeError(IngestError, ValueError):
    """An object over the size limit of the origin; it was not stored.

    ``size`` is the object's size, or for a streamed body of unknown length the bytes
    it had produced when it was stopped (more than ``limit``). ``limit`` is the
    largest object the origin takes for this kind of upload (``streaming``: a chunked
    upload readable while it is written), ``origin`` the origin's label. A known size
    is refused before any request; a stream is stopped at the limit.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        size: int,
        limit: int,
        origin: str,
        streaming: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, path=path, hint=hint)
        self.size = size
        self.limit = limit
        self.origin = origin
        self.streaming = streaming


class TransportError(IngestError):
    """The connection failed: refused, reset, TLS failure or timeout."""


class HTTPStatusError(IngestError):
    """The edge or the origin answered with a non-success status.

    ``status`` is the HTTP status, ``code`` the error code from the body when the
    server sent one (MediaStore JSON ``__type``, S3 XML ``Code``, CloudFront text).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        status: int,
        code: str | None = None,
        hint: str | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(message, path=path, hint=hint, attempts=attempts)
        self.status = status
        self.code = code


class AccessDeniedError(HTTPStatusError):
    """403: the edge refused the signature, or the origin refused the request."""


class ObjectNotFoundError(HTTPStatusError):
    """404: no object at that path."""


class BodyNotRetryableError(IngestError):
    """A request failed after part of a one-shot body had been consumed.

    The body was a generator larger than the retry buffer, so it could not be sent
    again. ``attempts`` attempts were made; ``__cause__`` is the failure.
    """

    def __init__(
        self, message: str, *, path: str | None = None, attempts: int, hint: str | None = None
    ) -> None:
        super().__init__(message, path=path, hint=hint, attempts=attempts)
        self.attempts: int = attempts


class RetriesExhaustedError(IngestError):
    """Every attempt allowed by the retry policy failed.

    ``attempts`` is how many were made and ``last_error`` the final failure (also
    chained as ``__cause__``).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        attempts: int,
        last_error: BaseException | None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, path=path, hint=hint, attempts=attempts)
        self.attempts: int = attempts
        self.last_error = last_error


# --- local stack ---------------------------------------------------------------------


class LocalStackError(MediaStoreIngestError):
    """The local test stack could not start or misbehaved."""


class RequestBodyError(LocalStackError):
    """A local test server could not read a request body.

    ``reason`` is ``"too_large"`` (over the limit), ``"incomplete"`` (the peer went
    away or stalled before the end) or ``"malformed"`` (bad framing).
    """

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


# --- signing relay -------------------------------------------------------------------


class RelayError(MediaStoreIngestError):
    """The signing relay could not start (its address cannot be bound) or misbehaved.

    Not a [`LocalStackError`][mediastore_ingest.errors.LocalStackError]: the relay is
    production code, not a test double.
    """


# --- signing: refusals at signing time ------------------------------------------------


class AlreadyExpiredError(PolicyError):
    """A signature was asked for a policy whose expiry is not after the signing time:
    CloudFront refuses a request at or after a policy's ``DateLessThan``, so it could
    only ever be refused. ``expires`` and ``now`` are epoch seconds."""

    def __init__(self, message: str, *, expires: int, now: int) -> None:
        super().__init__(message)
        self.expires = expires
        self.now = now


class HashAlgorithmRefusedError(SigningError):
    """The local cryptography library refused to sign with the hash asked for (SHA-1
    under a FIPS, RHEL 9 or other hardened OpenSSL policy): sign with SHA-256
    (``hash_algorithm="SHA256"``), which CloudFront takes as ``Hash-Algorithm=SHA256``.
    ``hash_algorithm`` is the refused hash."""

    def __init__(self, message: str, *, hash_algorithm: str) -> None:
        super().__init__(message)
        self.hash_algorithm = hash_algorithm

