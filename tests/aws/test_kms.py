"""KmsSigner against moto's KMS in server mode (real HTTP on 127.0.0.1), and botocore's
Stubber for the KMS answers moto never gives (each such test says so).

Signed URLs and cookies from KMS keys verify with UrlVerifier and with cryptography
directly; the public key comes out as the PEM CloudFront's CreatePublicKey takes; a
wildcard policy costs one Sign call; each KMS failure is a typed error.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from mediastore_ingest import (
    CannedPolicy,
    CustomPolicy,
    KmsAccessDeniedError,
    KmsConnectionError,
    KmsError,
    KmsKeyNotFoundError,
    KmsKeyUnavailableError,
    KmsKeyUsageError,
    KmsSigner,
    KmsThrottlingError,
    MediaStoreIngestError,
    SignedUrl,
    SigningError,
    UnsupportedKeyError,
    UrlSigner,
    UrlVerifier,
    load_public_key,
)
from mediastore_ingest._internal.b64 import cf_b64decode
from mediastore_ingest.errors import InvalidInputError, KeyLoadError
from mediastore_ingest.signing.kms import MAX_RAW_MESSAGE_BYTES
from tests._support.moto_kms import REGION, SignCounter, create_key, kms_client, kms_server

KID = "K2JCJMDEHXQW5F"
EXPIRES = 2_000_000_000
BASE = "https://d111111abcdef8.cloudfront.net/live/"
SPECS = ["RSA_2048", "ECC_NIST_P256"]


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kms_server(str(tmp_path_factory.mktemp("aws"))) as url:
        yield url


@pytest.fixture
def client(moto_url: str) -> Any:
    return kms_client(moto_url)


def check_with_cryptography(url_or_message: bytes, signature: bytes, public: Any) -> None:
    """The signature verifies under the public key, as CloudFront checks it (SHA-256)."""
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, url_or_message, padding.PKCS1v15(), hashes.SHA256())
    else:
        public.verify(signature, url_or_message, ec.ECDSA(hashes.SHA256()))


# --- signing through moto's KMS ---------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
def test_signed_urls_verify_with_the_verifier_and_with_cryptography(client: Any, spec: str) -> None:
    arn = create_key(client, spec)
    kms = KmsSigner(arn, client=client)
    assert kms.key_spec == spec
    assert kms.algorithm == ("RSA-2048" if spec == "RSA_2048" else "ECDSA-P256")
    signer = UrlSigner(KID, kms)
    assert signer.hash_algorithm == "SHA256"
    verifier = UrlVerifier({KID: kms.public_key()})

    canned = signer.sign_url(BASE + "seg1.ts", expires=EXPIRES)
    assert "&Hash-Algorithm=SHA256" in canned
    assert verifier.verify_url(canned, now=0) == CannedPolicy(BASE + "seg1.ts", EXPIRES)
    parsed = SignedUrl.parse(canned)
    message = CannedPolicy(BASE + "seg1.ts", EXPIRES).to_json().encode()
    check_with_cryptography(message, cf_b64decode(parsed.signature), kms.public_key())

    wildcard = CustomPolicy(BASE + "*", EXPIRES, not_before=100)
    custom = signer.sign_url(BASE + "seg2.ts", policy=wildcard)
    assert verifier.verify_url(custom, now=200) == wildcard
    parsed = SignedUrl.parse(custom)
    assert parsed.policy is not None
    check_with_cryptography(
        cf_b64decode(parsed.policy), cf_b64decode(parsed.signature), kms.public_key()
    )


@pytest.mark.parametrize("spec", SPECS)
def test_signed_cookies_verify(client: Any, spec: str) -> None:
    kms = KmsSigner(create_key(client, spec), client=client)
    signer = UrlSigner(KID, kms)
    policy = CustomPolicy(BASE + "*", EXPIRES)
    cookies = signer.sign_cookies(policy)
    assert cookies["CloudFront-Hash-Algorithm"] == "SHA256"
    verifier = UrlVerifier({KID: kms.public_key()})
    assert verifier.verify_cookies(BASE + "index.m3u8", cookies, now=0) == policy
    assert verifier.verify_cookies(BASE + "a.ts", signer.cookie_header(policy), now=0) == policy
    check_with_cryptography(
        policy.to_json().encode(),
        cf_b64decode(cookies["CloudFront-Signature"]),
        kms.public_key(),
    )


@pytest.mark.parametrize("spec", SPECS)
def test_public_key_pem_is_what_create_public_key_takes(client: Any, spec: str) -> None:
    arn = create_key(client, spec)
    kms = KmsSigner(arn, client=client)
    pem = kms.public_key_pem()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert pem.endswith("-----END PUBLIC KEY-----\n")
    der = client.get_public_key(KeyId=arn)["PublicKey"]
    assert load_public_key(pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == der


def test_a_wildcard_policy_is_signed_once_and_a_canned_url_each_time(client: Any) -> None:
    kms = KmsSigner(create_key(client), client=client)
    counter = SignCounter(client)
    signer = UrlSigner(KID, kms)
    channel = CustomPolicy(BASE + "*", EXPIRES)
    for i in range(200):
        signer.sign_url(f"{BASE}seg{i}.ts", policy=channel)
    signer.sign_cookies(channel)
    signer.cookie_header(channel)
    assert counter.calls == 1
    for i in range(5):
        signer.sign_url(f"{BASE}seg{i}.ts", expires=EXPIRES)
    assert counter.calls == 6
    # The same canned URL again: cached too.
    signer.sign_url(f"{BASE}seg0.ts", expires=EXPIRES)
    assert counter.calls == 6
    # A renewed channel policy (a new expiry) is a new signature, once.
    renewed = CustomPolicy(BASE + "*", EXPIRES + 300)
    for i in range(50):
        signer.sign_url(f"{BASE}seg{i}.ts", policy=renewed)
    assert counter.calls == 7


def test_kms_refuses_sha1_with_a_typed_error_that_says_why(client: Any) -> None:
    kms = KmsSigner(create_key(client), client=client)
    with pytest.raises(UnsupportedKeyError, match="no SHA-1 signing algorithm") as info:
        UrlSigner(KID, kms, hash_algorithm="SHA1")
    assert "hash_algorithm='SHA256'" in str(info.value)
    assert UrlSigner(KID, kms, hash_algorithm="SHA256").hash_algorithm == "SHA256"


def test_key_spec_given_skips_get_public_key_until_asked(client: Any) -> None:
    arn = create_key(client, "RSA_2048")
    counter = SignCounter(client)
    kms = KmsSigner(arn, client=client, key_spec="RSA_2048")
    assert counter.public_key_calls == 0
    UrlSigner(KID, kms).sign_url(BASE + "a.ts", expires=EXPIRES)
    assert (counter.public_key_calls, counter.calls) == (0, 1)
    kms.public_key()
    kms.public_key()
    assert counter.public_key_calls == 1
    wrong = KmsSigner(arn, client=client, key_spec="ECC_NIST_P256")
    with pytest.raises(KmsKeyUsageError, match="not ECC_NIST_P256") as info:
        wrong.public_key()
    assert info.value.code == "KeySpecMismatch"


def test_a_session_and_region_make_the_client(moto_url: str) -> None:
    session = botocore.session.get_session()
    kms = KmsSigner(
        create_key(kms_client(moto_url)), session=session, region_name=REGION,
        endpoint_url=moto_url,
    )
    UrlSigner(KID, kms).sign_url(BASE + "a.ts", expires=EXPIRES)
    with pytest.raises(InvalidInputError, match="not both"):
        KmsSigner("k", client=kms_client(moto_url), region_name=REGION)


def test_long_policies_are_signed_as_a_digest() -> None:
    """A policy over 4096 bytes goes as MessageType=DIGEST (moto signs RAW messages
    only, whatever MessageType says, so a Stubber plays KMS here, answering with a
    real signature over the digest)."""
    key = ec.generate_private_key(ec.SECP256R1())
    client = _offline_client()
    policy = CustomPolicy(BASE + "x" * 4100 + "/*", EXPIRES)
    message = policy.to_json().encode()
    assert len(message) > MAX_RAW_MESSAGE_BYTES
    digest = hashlib.sha256(message).digest()
    signature = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    with Stubber(client) as stub:
        stub.add_response(
            "sign",
            {"KeyId": "k", "Signature": signature, "SigningAlgorithm": "ECDSA_SHA_256"},
            {"KeyId": "k", "Message": digest, "MessageType": "DIGEST",
             "SigningAlgorithm": "ECDSA_SHA_256"},
        )
        signer = UrlSigner(KID, KmsSigner("k", client=client, key_spec="ECC_NIST_P256"))
        cookies = signer.sign_cookies(policy)
        stub.assert_no_pending_responses()
    verifier = UrlVerifier({KID: key.public_key()})
    assert verifier.verify_cookies(BASE + "x" * 4100 + "/a.ts", cookies, now=0) == policy
    forced = KmsSigner("k", client=client, key_spec="ECC_NIST_P256", message_type="RAW")
    with pytest.raises(SigningError, match="4096 bytes as MessageType=RAW"):
        UrlSigner(KID, forced).sign_cookies(policy)


def test_message_type_digest_can_be_forced() -> None:
    """For a key policy that allows only kms:MessageType DIGEST (Stubber: see above)."""
    client = _offline_client()
    message = CannedPolicy(BASE + "a.ts", EXPIRES).to_json().encode()
    with Stubber(client) as stub:
        stub.add_response(
            "sign",
            {"KeyId": "k", "Signature": b"\x01" * 256},
            {"KeyId": "k", "Message": hashlib.sha256(message).digest(), "MessageType": "DIGEST",
             "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256"},
        )
        kms = KmsSigner("k", client=client, key_spec="RSA_2048", message_type="DIGEST")
        UrlSigner(KID, kms).sign_url(BASE + "a.ts", expires=EXPIRES)


def test_an_alias_pointed_at_another_key_is_refused(client: Any) -> None:
    first, second = create_key(client), create_key(client)
    client.create_alias(AliasName="alias/cloudfront-live", TargetKeyId=first)
    kms = KmsSigner("alias/cloudfront-live", client=client)
    signer = UrlSigner(KID, kms)
    signer.sign_url(BASE + "a.ts", expires=EXPIRES)
    client.update_alias(AliasName="alias/cloudfront-live", TargetKeyId=second)
    with pytest.raises(KmsKeyUsageError, match="pointed at another key") as info:
        signer.sign_url(BASE + "b.ts", expires=EXPIRES)
    assert info.value.code == "KeyChanged"


# --- typed errors from moto's own answers ------------------------------------------------------

UNKNOWN = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize("key_id", [UNKNOWN, "alias/no-such-alias"])
def test_an_unknown_key_is_key_not_found(client: Any, key_id: str) -> None:
    with pytest.raises(KmsKeyNotFoundError, match="NotFoundException") as info:
        KmsSigner(key_id, client=client)
    error = info.value
    assert (error.key_id, error.operation, error.code) == (key_id, "GetPublicKey", "NotFoundException")
    assert isinstance(error, KeyLoadError)
    assert isinstance(error, SigningError)
    assert not error.retryable


def test_an_unknown_key_found_at_sign_time_keeps_its_type_through_the_signer(client: Any) -> None:
    # KmsKeyNotFoundError is a ValueError (a KeyLoadError): UrlSigner must not re-wrap it.
    signer = UrlSigner(KID, KmsSigner(UNKNOWN, client=client, key_spec="ECC_NIST_P256"))
    with pytest.raises(KmsKeyNotFoundError) as info:
        signer.sign_url(BASE + "a.ts", expires=EXPIRES)
    assert info.value.operation == "Sign"


@pytest.mark.parametrize(
    ("spec", "usage", "match"),
    [
        ("RSA_2048", "ENCRYPT_DECRYPT", "key usage 'ENCRYPT_DECRYPT'"),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "SIGN_VERIFY"),
        ("RSA_4096", "SIGN_VERIFY", "key spec 'RSA_4096'"),
        ("RSA_3072", "SIGN_VERIFY", "key spec 'RSA_3072'"),
        ("ECC_NIST_P384", "SIGN_VERIFY", "key spec 'ECC_NIST_P384'"),
        ("ECC_SECG_P256K1", "SIGN_VERIFY", "key spec 'ECC_SECG_P256K1'"),
    ],
)
def test_keys_cloudfront_cannot_take_are_refused(
    client: Any, spec: str, usage: str, match: str
) -> None:
    arn = create_key(client, spec, usage)
    with pytest.raises(KmsKeyUsageError, match=match) as info:
        KmsSigner(arn, client=client)
    assert isinstance(info.value, UnsupportedKeyError)
    assert info.value.operation == "GetPublicKey"


def test_a_key_spec_cloudfront_cannot_take_is_refused_when_given() -> None:
    with pytest.raises(KmsKeyUsageError, match="KMS key specs RSA_2048 and ECC_NIST_P256"):
        KmsSigner("k", client=_offline_client(), key_spec="RSA_4096")


def test_signing_with_an_encryption_key_is_a_kms_error(client: Any) -> None:
    # With key_spec given no GetPublicKey check runs; moto answers Sign with a
    # ValidationException (AWS KMS says InvalidKeyUsageException: see the Stubber test).
    arn = create_key(client, "RSA_2048", "ENCRYPT_DECRYPT")
    signer = UrlSigner(KID, KmsSigner(arn, client=client, key_spec="RSA_2048"))
    with pytest.raises(KmsError, match="SIGN_VERIFY") as info:
        signer.sign_url(BASE + "a.ts", expires=EXPIRES)
    assert info.value.code == "ValidationException"


def test_no_answer_is_a_connection_error() -> None:
    with socket.socket() as sock:  # a port on loopback that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = botocore.session.get_session().create_client(
        "kms", region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=2),
    )
    with pytest.raises(KmsConnectionError, match="no answer from KMS") as info:
        KmsSigner("k", client=client)
    assert info.value.retryable
    signer = UrlSigner(KID, KmsSigner("k", client=client, key_spec="ECC_NIST_P256"))
    with pytest.raises(KmsConnectionError):
        signer.sign_url(BASE + "a.ts", expires=EXPIRES)


def test_no_credentials_is_access_denied(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(KmsAccessDeniedError, match="no usable AWS credentials"):
        KmsSigner("k", region_name=REGION, endpoint_url="http://127.0.0.1:9")


def test_no_region_is_a_clear_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    with pytest.raises(InvalidInputError, match="no AWS Region for KMS"):
        KmsSigner("k")


@pytest.mark.parametrize(
    "kwargs",
    [{"key_id": ""}, {"key_id": "a\nb"}, {"key_id": "k" * 2049}, {"message_type": "raw"},
     {"client": object()}, {"session": object()}, {"grant_tokens": 5}],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"key_id": "k", "key_spec": "ECC_NIST_P256"} | kwargs
    if "client" not in args and "session" not in args:
        args["client"] = _offline_client()
    with pytest.raises(InvalidInputError):
        KmsSigner(**args)


# --- typed errors for answers moto never gives: botocore's Stubber ----------------------------


def _offline_client() -> Any:
    """A KMS client for the Stubber: fake credentials, a loopback endpoint never called."""
    return botocore.session.get_session().create_client(
        "kms", region_name=REGION, endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


@pytest.mark.parametrize(
    ("code", "kind", "retryable"),
    [
        ("DisabledException", KmsKeyUnavailableError, False),  # moto signs with disabled keys
        ("KMSInvalidStateException", KmsKeyUnavailableError, False),  # and pending deletion
        ("KeyUnavailableException", KmsKeyUnavailableError, True),  # custom key stores
        ("InvalidKeyUsageException", KmsKeyUsageError, False),  # moto: ValidationException
        ("ThrottlingException", KmsThrottlingError, True),  # moto never throttles
        ("AccessDeniedException", KmsAccessDeniedError, False),  # moto: DescribeKey only
        ("InvalidGrantTokenException", KmsAccessDeniedError, False),
        ("KMSInternalException", KmsError, True),
        ("DependencyTimeoutException", KmsError, True),
    ],
)
def test_kms_failures_of_sign_are_typed(code: str, kind: type[KmsError], retryable: bool) -> None:
    """Stubber: moto cannot produce these answers to Sign (noted per case)."""
    client = _offline_client()
    signer = UrlSigner(KID, KmsSigner("arn:k", client=client, key_spec="ECC_NIST_P256"))
    with Stubber(client) as stub:
        stub.add_client_error("sign", service_error_code=code, service_message="nope")
        with pytest.raises(kind) as info:
            signer.sign_url(BASE + "a.ts", expires=EXPIRES)
    error = info.value
    assert type(error) is kind
    assert (error.key_id, error.operation, error.code) == ("arn:k", "Sign", code)
    assert error.retryable is retryable
    assert code in str(error)
    assert "nope" in str(error)
    assert isinstance(error, MediaStoreIngestError)
    # A failed signature is not cached: the next call asks KMS again.
    with Stubber(client) as stub:
        stub.add_response("sign", {"KeyId": "arn:k", "Signature": _der_ecdsa()})
        signer.sign_url(BASE + "a.ts", expires=EXPIRES)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("AccessDeniedException", KmsAccessDeniedError),  # moto: no kms:GetPublicKey policy check
        ("DisabledException", KmsKeyUnavailableError),  # moto answers for disabled keys
        ("UnsupportedOperationException", KmsKeyUsageError),  # moto answers for symmetric keys
        ("InvalidArnException", KmsKeyNotFoundError),
    ],
)
def test_kms_failures_of_get_public_key_are_typed(code: str, kind: type[KmsError]) -> None:
    """Stubber: moto answers GetPublicKey in these cases (noted per case)."""
    client = _offline_client()
    with Stubber(client) as stub:
        stub.add_client_error("get_public_key", service_error_code=code)
        with pytest.raises(kind) as info:
            KmsSigner("arn:k", client=client)
    assert info.value.operation == "GetPublicKey"
    if kind is KmsAccessDeniedError:
        assert "kms:GetPublicKey" in str(info.value)


def _der_ecdsa() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.sign(b"x", ec.ECDSA(hashes.SHA256()))


# --- provision: the KMS key's public key in the key group -------------------------------------


def test_provision_registers_the_kms_public_key(
    moto_url: str, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mediastore_ingest.cli import main

    arn = create_key(client, "ECC_NIST_P256")
    monkeypatch.setenv("INGEST_SECRET", "s" * 40)
    out = tmp_path / "setup.json"
    code = main([
        "provision", "--region", REGION, "--endpoint-url", moto_url,
        "--container", "kmslive", "--kms-key-id", arn, "--secret-env", "INGEST_SECRET",
        "--out", str(out),
    ])
    assert code == 0, capsys.readouterr().err
    cloudfront = botocore.session.get_session().create_client(
        "cloudfront", region_name=REGION, endpoint_url=moto_url
    )
    keys = cloudfront.list_public_keys()["PublicKeyList"]["Items"]
    encoded = [
        cloudfront.get_public_key(Id=item["Id"])["PublicKey"]["PublicKeyConfig"]["EncodedKey"]
        for item in keys
    ]
    assert KmsSigner(arn, client=client).public_key_pem() in encoded


@pytest.mark.parametrize("keys", [[], ["--public-key", "p.pem", "--kms-key-id", "arn:k"]])
def test_provision_needs_exactly_one_public_key_source(
    keys: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mediastore_ingest.cli import main

    monkeypatch.setenv("INGEST_SECRET", "s" * 40)
    assert main(["provision", "--region", REGION, "--container", "c",
                 "--secret-env", "INGEST_SECRET", "--dry-run", *keys]) == 2
    assert "give --public-key or --kms-key-id" in capsys.readouterr().err
