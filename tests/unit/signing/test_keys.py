"""Keys: every input format, refusals, warnings, generation and the key CLI commands."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID

from mediastore_ingest import errors
from mediastore_ingest.cli import main
from mediastore_ingest.errors import (
    InvalidInputError,
    KeyLoadError,
    KeyMaterialError,
    KeySizeWarning,
    MediaStoreIngestWarning,
    UnsupportedKeyError,
)
from mediastore_ingest.signing.keys import (
    CLOUDFRONT_KEY_REQUIREMENTS,
    KeyPair,
    check_private_key,
    check_public_key,
    generate_key_pair,
    key_fingerprint,
    load_private_key,
    load_public_key,
    public_key_pem,
)
from tests._support import VECTORS
from tests._support.cli import run

PASSWORD = "correct horse battery staple"
POSIX = os.name == "posix"

# From the OpenSSL command line (independent of this package):
#   openssl pkey -in aws-sdk-ruby-unit-test-key.pem -pubout
#   openssl pkey -in aws-sdk-ruby-unit-test-key.pem -pubout -outform DER | sha256sum
RUBY_PUBLIC_PEM = """\
-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC6YewnvN7Jj4vrhqqgL6A45Gy4
ju82dPcUoTEpg7wCc3gByuvnH6QgcGsIB0UDklyEJ8gOlmeskAviGHxAhfRJ43yW
KpKpIpjHk3Q6ORA547CWxE9Q79t7SE61zGW7AuvD4NvTyeNxlEQxmZLtt/NC4WFh
fs5oskfgYxeqE3bP1QIDAQAB
-----END PUBLIC KEY-----
"""
RUBY_FINGERPRINT = "2de58c9a76ddd4d7d9353f9683369ac63097d70d3835d2a2e4dded4b423f3615"
# DER of the named-curve parameters of P-256, as `openssl ecparam -genkey` prints them.
EC_PARAMETERS_BLOCK = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


@pytest.fixture(scope="module")
def rsa3072() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@pytest.fixture(scope="module")
def rsa4096() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


@pytest.fixture(scope="module")
def refused_keys(rsa3072: rsa.RSAPrivateKey) -> dict[str, Any]:
    """Private keys CloudFront refuses, by name."""
    return {
        "DSA": dsa.generate_private_key(key_size=1024),  # noqa: S505
        "Ed25519": ed25519.Ed25519PrivateKey.generate(),
        "Ed448": ed448.Ed448PrivateKey.generate(),
        "X25519": x25519.X25519PrivateKey.generate(),
        "secp384r1": ec.generate_private_key(ec.SECP384R1()),
        "secp256k1": ec.generate_private_key(ec.SECP256K1()),
        "RSA 3072": rsa3072,
    }


@pytest.fixture
def keys(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    return {"rsa": rsa_key, "ec": ec_key}


def _private(
    key: Any, encoding: str, fmt: str, password: bytes | None = None
) -> bytes:
    enc = serialization.Encoding.PEM if encoding == "PEM" else serialization.Encoding.DER
    form = (
        serialization.PrivateFormat.PKCS8
        if fmt == "PKCS8"
        else serialization.PrivateFormat.TraditionalOpenSSL  # PKCS#1 for RSA, SEC1 for EC
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(enc, form, encryption)  # type: ignore[no-any-return]


def _same_private(a: Any, b: Any) -> bool:
    return a.private_numbers() == b.private_numbers()  # type: ignore[no-any-return]


def _present(data: bytes, tmp_path: Path, how: str) -> Any:
    """``data`` in the input form ``how``: bytes, PEM text, a str path or a Path."""
    if how == "bytes":
        return data
    if how == "text":
        return data.decode("ascii")
    path = tmp_path / "key.bin"
    path.write_bytes(data)
    return str(path) if how == "str-path" else path


def _secret_fragments(data: bytes) -> list[str]:
    """Slices of key material that must never show up in a message."""
    text = data.decode("latin-1")
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-"))
    return [body[i : i + 16] for i in range(0, max(len(body) - 16, 1), 64)] + [data.hex()[:32]]


# --- loading private keys: the format matrix -----------------------------------------

PRIVATE_CASES = [
    pytest.param(kind, encoding, fmt, encrypted, how, id=f"{kind}-{encoding}-{fmt}-{enc}-{how}")
    for kind in ("rsa", "ec")
    for encoding in ("PEM", "DER")
    for fmt in ("PKCS8", "TRADITIONAL")
    for encrypted, enc in ((False, "plain"), (True, "encrypted"))
    for how in ("bytes", "text", "str-path", "pathlike")
    # DER has no text form, and traditional (PKCS#1 / SEC1) DER cannot be encrypted.
    if not (encoding == "DER" and (how == "text" or (fmt == "TRADITIONAL" and encrypted)))
]


@pytest.mark.parametrize(("kind", "encoding", "fmt", "encrypted", "how"), PRIVATE_CASES)
def test_load_private_key_every_format(
    keys: dict[str, Any], tmp_path: Path, kind: str, encoding: str, fmt: str,
    encrypted: bool, how: str,
) -> None:
    key = keys[kind]
    data = _private(key, encoding, fmt, PASSWORD.encode() if encrypted else None)
    loaded = load_private_key(_present(data, tmp_path, how), PASSWORD if encrypted else None)
    assert type(loaded) is type(key)
    assert _same_private(loaded, key)


def test_the_pem_labels_of_the_matrix_are_what_they_claim(keys: dict[str, Any]) -> None:
    # Guards the matrix above: it really covers PKCS#1, SEC1, PKCS#8 and both encryptions.
    pw = PASSWORD.encode()
    assert _private(keys["rsa"], "PEM", "TRADITIONAL").startswith(b"-----BEGIN RSA PRIVATE KEY")
    assert _private(keys["ec"], "PEM", "TRADITIONAL").startswith(b"-----BEGIN EC PRIVATE KEY")
    assert _private(keys["ec"], "PEM", "PKCS8").startswith(b"-----BEGIN PRIVATE KEY")
    assert _private(keys["ec"], "PEM", "PKCS8", pw).startswith(b"-----BEGIN ENCRYPTED PRIVATE")
    assert b"Proc-Type: 4,ENCRYPTED" in _private(keys["rsa"], "PEM", "TRADITIONAL", pw)


@pytest.mark.parametrize(
    "password", [PASSWORD, PASSWORD.encode(), bytearray(PASSWORD.encode())],
    ids=["str", "bytes", "bytearray"],
)
def test_password_may_be_str_or_bytes(ec_key: ec.EllipticCurvePrivateKey, password: Any) -> None:
    data = _private(ec_key, "PEM", "PKCS8", PASSWORD.encode())
    assert _same_private(load_private_key(data, password=password), ec_key)


def test_non_ascii_password_is_utf8(ec_key: ec.EllipticCurvePrivateKey) -> None:
    data = _private(ec_key, "PEM", "PKCS8", "pässwörd🔑".encode())
    assert _same_private(load_private_key(data, password="pässwörd🔑"), ec_key)


def test_sec1_pem_with_ec_parameters_block_as_openssl_ecparam_writes_it(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    data = EC_PARAMETERS_BLOCK + _private(ec_key, "PEM", "TRADITIONAL")
    assert _same_private(load_private_key(data), ec_key)


def test_pem_with_text_around_it(ec_key: ec.EllipticCurvePrivateKey) -> None:
    data = b"Bag Attributes\n    friendlyName: ingest\n" + _private(ec_key, "PEM", "PKCS8")
    assert _same_private(load_private_key(data + b"\n\n"), ec_key)


def test_crlf_pem(rsa_key: rsa.RSAPrivateKey) -> None:
    data = _private(rsa_key, "PEM", "PKCS8").replace(b"\n", b"\r\n")
    assert _same_private(load_private_key(data.decode()), rsa_key)


def test_loaded_key_objects_are_checked_and_returned(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    assert load_private_key(rsa_key) is rsa_key
    public = ec_key.public_key()
    assert load_public_key(public) is public


def _same_public(a: Any, b: Any) -> bool:
    return key_fingerprint(a) == key_fingerprint(b)


# --- loading public keys -------------------------------------------------------------

PUBLIC_CASES = [
    pytest.param(kind, encoding, fmt, how, id=f"{kind}-{encoding}-{fmt}-{how}")
    for kind in ("rsa", "ec")
    for encoding in ("PEM", "DER")
    for fmt in ("SPKI", "PKCS1")
    for how in ("bytes", "text", "str-path", "pathlike")
    if not (encoding == "DER" and how == "text") and not (kind == "ec" and fmt == "PKCS1")
]


@pytest.mark.parametrize(("kind", "encoding", "fmt", "how"), PUBLIC_CASES)
def test_load_public_key_every_format(
    keys: dict[str, Any], tmp_path: Path, kind: str, encoding: str, fmt: str, how: str
) -> None:
    public = keys[kind].public_key()
    data = public.public_bytes(
        serialization.Encoding.PEM if encoding == "PEM" else serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo
        if fmt == "SPKI"
        else serialization.PublicFormat.PKCS1,
    )
    if encoding == "PEM":
        assert data.startswith(
            b"-----BEGIN PUBLIC KEY" if fmt == "SPKI" else b"-----BEGIN RSA PUBLIC KEY"
        )
    loaded = load_public_key(_present(data, tmp_path, how))
    assert loaded.public_numbers() == public.public_numbers()


# --- the published test vector ---------------------------------------------------------


def test_ruby_sdk_test_key_loads_with_a_size_warning(ruby_key_pem: bytes) -> None:
    with pytest.warns(KeySizeWarning, match="key groups take RSA 2048 or ECDSA P-256") as rec:
        key = load_private_key(ruby_key_pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 1024
    # stacklevel points at the caller, not inside the package.
    assert rec[0].filename == __file__


def test_ruby_sdk_test_key_public_pem_and_fingerprint_match_openssl(ruby_key_pem: bytes) -> None:
    with pytest.warns(KeySizeWarning):
        key = load_private_key(ruby_key_pem)
    with pytest.warns(KeySizeWarning):
        pem = public_key_pem(key)
    assert pem == RUBY_PUBLIC_PEM
    assert key_fingerprint(key) == RUBY_FINGERPRINT
    assert key_fingerprint(key.public_key()) == RUBY_FINGERPRINT
    with pytest.warns(KeySizeWarning):
        public = load_public_key(RUBY_PUBLIC_PEM)
    assert key_fingerprint(public) == RUBY_FINGERPRINT


def test_ruby_sdk_test_key_from_the_shared_vectors_path(tmp_path: Path) -> None:
    path = VECTORS / "aws-sdk-ruby-unit-test-key.pem"
    with pytest.warns(KeySizeWarning):
        key = load_private_key(str(path))
    assert key_fingerprint(key) == RUBY_FINGERPRINT


# --- sizes and types CloudFront accepts ----------------------------------------------


def test_rsa_2048_and_p256_pass_silently(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    # Warnings are errors in this suite: any warning here fails the test.
    assert check_private_key(rsa_key) is rsa_key
    assert check_private_key(ec_key) is ec_key
    assert check_public_key(rsa_key.public_key()) is not None
    assert check_public_key(ec_key.public_key()) is not None
    public_key_pem(rsa_key)
    public_key_pem(ec_key)


@pytest.mark.parametrize("size", [1024, 4096])
def test_rsa_1024_and_4096_warn(
    request: pytest.FixtureRequest, size: int, tmp_path: Path
) -> None:
    key: rsa.RSAPrivateKey = request.getfixturevalue(f"rsa{size}")
    match = "legacy key pairs accept 1024/4096"
    with pytest.warns(KeySizeWarning, match=match) as rec:
        assert check_private_key(key) is key
    assert rec[0].filename == __file__
    with pytest.warns(KeySizeWarning, match=match):
        check_public_key(key.public_key())
    with pytest.warns(KeySizeWarning, match=f"RSA {size}-bit") as rec:
        load_private_key(_private(key, "DER", "PKCS8"))
    assert rec[0].filename == __file__
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.warns(KeySizeWarning):
        load_public_key(pem)
    assert issubclass(KeySizeWarning, MediaStoreIngestWarning)
    assert issubclass(MediaStoreIngestWarning, UserWarning)


def test_refused_key_objects(refused_keys: dict[str, Any]) -> None:
    for name, key in refused_keys.items():
        with pytest.raises(UnsupportedKeyError, match="RSA 2048 or ECDSA P-256") as info:
            check_private_key(key)
        assert name.split()[-1] in str(info.value), name
        assert isinstance(info.value, ValueError)
        with pytest.raises(UnsupportedKeyError, match="RSA 2048 or ECDSA P-256"):
            check_public_key(key.public_key())


@pytest.mark.parametrize(
    "name", ["DSA", "Ed25519", "Ed448", "X25519", "secp384r1", "secp256k1", "RSA 3072"]
)
def test_refused_keys_from_pem_and_der(refused_keys: dict[str, Any], name: str) -> None:
    key = refused_keys[name]
    for encoding in ("PEM", "DER"):
        with pytest.raises(UnsupportedKeyError) as info:
            load_private_key(_private(key, encoding, "PKCS8"))
        assert CLOUDFRONT_KEY_REQUIREMENTS in str(info.value)
        spki = key.public_key().public_bytes(
            serialization.Encoding.PEM if encoding == "PEM" else serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        with pytest.raises(UnsupportedKeyError):
            load_public_key(spki)
    with pytest.raises(UnsupportedKeyError):
        load_private_key(key)


def test_refused_for_public_key_pem_too(refused_keys: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedKeyError):
        public_key_pem(refused_keys["secp384r1"])
    with pytest.raises(InvalidInputError):
        public_key_pem(refused_keys["DSA"])  # type: ignore[arg-type]


def test_wrong_kind_of_key_object(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(InvalidInputError, match="public key was given where a private"):
        check_private_key(rsa_key.public_key())
    with pytest.raises(InvalidInputError, match="private key was given where a public"):
        check_public_key(rsa_key)
    with pytest.raises(InvalidInputError, match="got str"):
        check_private_key("-----BEGIN PRIVATE KEY-----")
    with pytest.raises(InvalidInputError):
        load_private_key(rsa_key.public_key())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        load_public_key(rsa_key)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="got int"):
        load_private_key(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="password must be str or bytes"):
        load_private_key(_private(rsa_key, "PEM", "PKCS8"), password=1234)  # type: ignore[arg-type]


# --- load failures -------------------------------------------------------------------


def test_wrong_password(rsa_key: rsa.RSAPrivateKey) -> None:
    for fmt in ("PKCS8", "TRADITIONAL"):
        data = _private(rsa_key, "PEM", fmt, PASSWORD.encode())
        with pytest.raises(KeyLoadError, match="wrong password") as info:
            load_private_key(data, password="not the password")
        assert "not the password" not in str(info.value)
        assert PASSWORD not in str(info.value)
        assert info.value.__cause__ is not None
        for fragment in _secret_fragments(data):
            assert fragment not in str(info.value)
    der = _private(rsa_key, "DER", "PKCS8", PASSWORD.encode())
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_private_key(der, password=b"nope")


def test_missing_password(ec_key: ec.EllipticCurvePrivateKey) -> None:
    for encoding in ("PEM", "DER"):
        data = _private(ec_key, encoding, "PKCS8", PASSWORD.encode())
        with pytest.raises(KeyLoadError, match="is encrypted; a password is needed"):
            load_private_key(data)
        with pytest.raises(KeyLoadError, match="is encrypted; a password is needed"):
            load_private_key(data, password="")


def test_password_for_an_unencrypted_key(ec_key: ec.EllipticCurvePrivateKey) -> None:
    data = _private(ec_key, "PEM", "PKCS8")
    with pytest.raises(KeyLoadError, match="not encrypted, but a password was given") as info:
        load_private_key(data, password="hunter2")
    assert "hunter2" not in str(info.value)
    # An empty password counts as none.
    assert _same_private(load_private_key(data, password=""), ec_key)


def _truncations(data: bytes) -> list[bytes]:
    lines = data.splitlines(keepends=True)
    return [
        data[: len(data) // 2],  # cut in the middle: no END line
        b"".join(lines[:3] + lines[-1:]),  # END line present, body cut
        data.replace(b"\n", b"", 3)[:-40] + b"\n-----END PRIVATE KEY-----\n",
    ]


@pytest.mark.parametrize("encrypted", [False, True])
def test_truncated_pem_and_der(rsa_key: rsa.RSAPrivateKey, encrypted: bool) -> None:
    password = PASSWORD if encrypted else None
    pw = PASSWORD.encode() if encrypted else None
    for bad in _truncations(_private(rsa_key, "PEM", "PKCS8", pw)):
        with pytest.raises(KeyLoadError) as info:
            load_private_key(bad, password=password)
        for fragment in _secret_fragments(bad):
            assert fragment not in str(info.value)
    der = _private(rsa_key, "DER", "PKCS8", pw)
    for cut in (1, 10, len(der) // 2, len(der) - 1):
        with pytest.raises(KeyLoadError):
            load_private_key(der[:cut], password=password)


def test_truncated_pem_says_so(ec_key: ec.EllipticCurvePrivateKey) -> None:
    data = _private(ec_key, "PEM", "PKCS8")
    with pytest.raises(KeyLoadError, match="without an END line"):
        load_private_key(data[:60])


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00" * 32, b"hello world", os.urandom(300), b"-----BEGIN PRIVATE KEY-----\n!!\n"
     b"-----END PRIVATE KEY-----\n", "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----"],
    ids=["empty", "zeros", "text", "random", "bad-pem-bytes", "bad-pem-text"],
)
def test_garbage(garbage: Any) -> None:
    with pytest.raises(KeyLoadError):
        load_private_key(garbage)
    with pytest.raises(KeyLoadError):
        load_public_key(garbage.replace("PRIVATE", "PUBLIC") if isinstance(garbage, str) else
                        garbage.replace(b"PRIVATE", b"PUBLIC"))


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "key.pem"
    with pytest.raises(KeyLoadError, match="does not exist") as info:
        load_private_key(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)
    with pytest.raises(KeyLoadError, match="does not exist") as info:
        load_public_key(str(path))
    assert str(path) in str(info.value)


def test_directory_and_unreadable_file(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(KeyLoadError, match="directory"):
        load_private_key(tmp_path)
    with pytest.raises(KeyLoadError, match="not a valid path"):
        load_private_key("bad\x00path")
    if POSIX and os.geteuid() != 0:  # root reads anything
        path = tmp_path / "locked.pem"
        path.write_bytes(_private(ec_key, "PEM", "PKCS8"))
        path.chmod(0)
        with pytest.raises(KeyLoadError, match="cannot read") as info:
            load_private_key(path)
        assert isinstance(info.value.__cause__, PermissionError)


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "video.ts"
    with open(path, "wb") as fh:
        fh.truncate((1 << 20) + 1)
    with pytest.raises(KeyLoadError, match="too large"):
        load_private_key(path)


def _certificate(key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(when).not_valid_after(when + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_other_pem_kinds_get_a_helpful_error(ec_key: ec.EllipticCurvePrivateKey) -> None:
    spki = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cert = _certificate(ec_key)
    openssh = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    ssh_public = ec_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    private_pem = _private(ec_key, "PEM", "PKCS8")
    with pytest.raises(KeyLoadError, match="holds a public key, not a private key"):
        load_private_key(spki)
    with pytest.raises(KeyLoadError, match="holds a certificate"):
        load_private_key(cert)
    with pytest.raises(KeyLoadError, match="OpenSSH format"):
        load_private_key(openssh)
    with pytest.raises(KeyLoadError, match=r"holds no private key \(PEM blocks: EC PARAMETERS\)"):
        load_private_key(EC_PARAMETERS_BLOCK)
    with pytest.raises(KeyLoadError, match="holds a private key"):
        load_public_key(private_pem)
    with pytest.raises(KeyLoadError, match="openssl x509 -pubkey"):
        load_public_key(cert)
    with pytest.raises(KeyLoadError, match="OpenSSH public key"):
        load_public_key(ssh_public)
    # The same mix-ups in DER.
    with pytest.raises(KeyLoadError, match="holds a public key"):
        load_private_key(
            ec_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    with pytest.raises(KeyLoadError, match="holds a private key"):
        load_public_key(_private(ec_key, "DER", "PKCS8"))
    with pytest.raises(KeyLoadError, match="holds an encrypted private key"):
        load_public_key(_private(ec_key, "DER", "PKCS8", b"pw"))
    # A certificate bundled with its key is fine: the key is found.
    assert _same_private(load_private_key(cert + private_pem), ec_key)


def test_two_private_keys_in_one_file_are_refused(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    both = _private(rsa_key, "PEM", "PKCS8") + _private(ec_key, "PEM", "PKCS8")
    with pytest.raises(KeyLoadError, match="more than one private key"):
        load_private_key(both)


def test_error_tree() -> None:
    assert issubclass(KeyLoadError, KeyMaterialError)
    assert issubclass(UnsupportedKeyError, KeyMaterialError)
    assert issubclass(KeyMaterialError, errors.MediaStoreIngestError)
    assert {"KeySizeWarning", "MediaStoreIngestWarning"} <= set(errors.__all__)
    assert "KeySizeWarning" in (errors.__doc__ or "")


# --- public_key_pem and key_fingerprint ----------------------------------------------


def test_public_key_pem_is_what_create_public_key_wants(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    for key in (rsa_key, ec_key):
        pem = public_key_pem(key)
        assert isinstance(pem, str)
        assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
        assert pem.endswith("\n-----END PUBLIC KEY-----\n")
        assert all(len(line) <= 64 for line in pem.splitlines())
        assert pem == public_key_pem(key.public_key())
        assert _same_public(load_public_key(pem), key.public_key())


def test_fingerprint_is_sha256_of_der_spki(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    der = ec_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_fingerprint(ec_key) == hashlib.sha256(der).hexdigest()
    assert key_fingerprint(ec_key) == key_fingerprint(ec_key.public_key())
    assert key_fingerprint(rsa_key) != key_fingerprint(ec_key)
    assert len(key_fingerprint(rsa_key)) == 64
    with pytest.raises(InvalidInputError):
        key_fingerprint(b"-----BEGIN PUBLIC KEY-----")  # type: ignore[arg-type]


# --- KeyPair -------------------------------------------------------------------------


def test_key_pair_repr_hides_the_private_key(rsa_key: rsa.RSAPrivateKey) -> None:
    pair = KeyPair(rsa_key)
    text = repr(pair)
    assert "private" not in text.lower()
    numbers = rsa_key.private_numbers()
    for secret in (numbers.d, numbers.p, numbers.q):
        assert str(secret)[:20] not in text
        assert format(secret, "x")[:20] not in text
    assert text == f"KeyPair(public_key=<RSA-2048 public key sha256:{pair.fingerprint()[:16]}>)"
    assert str(pair) == text


def test_key_pair_values(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    pair = KeyPair(ec_key)
    assert _same_public(pair.public_key, ec_key.public_key())
    assert pair.public_key_pem() == public_key_pem(ec_key)
    assert pair.fingerprint() == key_fingerprint(ec_key)
    assert pair.algorithm == "ECDSA-P256"
    assert KeyPair(rsa_key).algorithm == "RSA-2048"
    assert KeyPair(ec_key, ec_key.public_key()) == KeyPair(ec_key, ec_key.public_key())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        pair.private_key = ec_key  # type: ignore[misc]
    with pytest.raises(InvalidInputError, match="not the public half"):
        KeyPair(ec_key, rsa_key.public_key())
    with pytest.raises(InvalidInputError):
        KeyPair(rsa_key.public_key())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        KeyPair(ec_key, ec_key)  # type: ignore[arg-type]


def test_key_pair_refuses_unsupported_keys_without_warning_for_sizes(
    refused_keys: dict[str, Any], rsa1024: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(UnsupportedKeyError):
        KeyPair(refused_keys["secp384r1"])
    with pytest.raises(InvalidInputError):
        KeyPair(refused_keys["Ed25519"])
    assert KeyPair(rsa1024).algorithm == "RSA-1024"  # no warning: it is a plain value


# --- generate_key_pair ---------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_defaults_to_rsa_2048_in_memory() -> None:
    pair = generate_key_pair()
    assert isinstance(pair.private_key, rsa.RSAPrivateKey)
    assert pair.private_key.key_size == 2048
    assert pair.private_key.public_key().public_numbers().e == 65537


def test_generate_ecdsa_is_p256() -> None:
    pair = generate_key_pair(algorithm="ecdsa")
    assert isinstance(pair.private_key, ec.EllipticCurvePrivateKey)
    assert pair.private_key.curve.name == "secp256r1"
    assert generate_key_pair(algorithm="ECDSA").algorithm == "ECDSA-P256"


def test_generate_writes_pkcs8_pem_0600_and_spki_pem(tmp_path: Path) -> None:
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    pair = generate_key_pair(priv, pub, algorithm="ecdsa")
    assert priv.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert pub.read_text() == pair.public_key_pem()
    assert _same_private(load_private_key(priv), pair.private_key)
    assert load_public_key(pub).public_numbers() == pair.public_key.public_numbers()
    if POSIX:
        assert _mode(priv) == 0o600
        assert _mode(pub) == 0o644 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem", "k.pub.pem"]


@pytest.mark.parametrize("password", [PASSWORD, PASSWORD.encode()], ids=["str", "bytes"])
def test_generate_encrypted(tmp_path: Path, password: str | bytes) -> None:
    priv = tmp_path / "k.pem"
    pair = generate_key_pair(str(priv), algorithm="ecdsa", password=password)
    data = priv.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    with pytest.raises(KeyLoadError, match="password is needed"):
        load_private_key(priv)
    assert _same_private(load_private_key(priv, password=PASSWORD), pair.private_key)


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    priv.write_text("precious")
    with pytest.raises(KeyMaterialError, match="refusing to overwrite") as info:
        generate_key_pair(priv, pub, algorithm="ecdsa")
    assert str(priv) in str(info.value)
    assert priv.read_text() == "precious"
    assert not pub.exists()  # neither file was written
    priv.unlink()
    pub.write_text("also precious")
    with pytest.raises(KeyMaterialError, match="refusing to overwrite"):
        generate_key_pair(priv, pub, algorithm="ecdsa")
    assert not priv.exists()
    assert pub.read_text() == "also precious"


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_overwrite_replaces_a_world_readable_file_with_a_0600_one(tmp_path: Path) -> None:
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    priv.write_text("old")
    priv.chmod(0o644)
    pub.write_text("old")
    pair = generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    assert _mode(priv) == 0o600
    assert _same_private(load_private_key(priv), pair.private_key)
    assert pub.read_text() == pair.public_key_pem()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem", "k.pub"]


def test_private_file_is_created_0600_from_the_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The private key file is born with mode 0600 and O_EXCL (no chmod after writing)."""
    calls: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *a: Any, **kw: Any) -> int:
        calls.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, *a, **kw)

    monkeypatch.setattr(os, "open", spy)
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    generate_key_pair(priv, pub, algorithm="ecdsa")
    generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    monkeypatch.undo()
    assert len(calls) == 4
    (p1, f1, m1), (q1, _, n1), (p2, f2, m2), (q2, _, n2) = calls
    assert (p1, q1) == (str(priv), str(pub))
    assert (m1, n1) == (0o600, 0o644)
    excl = os.O_CREAT | os.O_EXCL
    assert f1 & excl == excl
    # Overwriting goes through fresh temporary files beside the targets.
    assert Path(p2).parent == tmp_path
    assert Path(q2).parent == tmp_path
    assert str(priv) != p2 != q2 != str(pub)
    assert (m2, n2) == (0o600, 0o644)
    assert f2 & excl == excl


def test_generate_write_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    priv, pub = tmp_path / "k.pem", tmp_path / "missing-dir" / "k.pub"
    with pytest.raises(KeyMaterialError, match="cannot write") as info:
        generate_key_pair(priv, pub, algorithm="ecdsa")
    assert "missing-dir" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyMaterialError):
        generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    assert list(tmp_path.iterdir()) == []


def test_generate_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedKeyError, match="RSA 3072-bit"):
        generate_key_pair(rsa_bits=3072)
    with pytest.raises(UnsupportedKeyError, match="'ed25519'"):
        generate_key_pair(algorithm="ed25519")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        generate_key_pair(rsa_bits="2048")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="only applies"):
        generate_key_pair(password="pw", algorithm="ecdsa")
    with pytest.raises(InvalidInputError, match="empty password"):
        generate_key_pair(tmp_path / "k.pem", password="", algorithm="ecdsa")
    with pytest.raises(InvalidInputError, match="same file"):
        generate_key_pair(tmp_path / "k.pem", str(tmp_path / "k.pem"), algorithm="ecdsa")
    assert list(tmp_path.iterdir()) == []


def test_generate_rsa_1024_warns() -> None:
    with pytest.warns(KeySizeWarning, match="RSA 1024-bit") as rec:
        pair = generate_key_pair(rsa_bits=1024)
    assert rec[0].filename == __file__
    assert pair.algorithm == "RSA-1024"


# --- writing a key pair replaces every file or none --------------------------------------------


def test_a_plausible_missing_path_is_still_named(tmp_path: Path) -> None:
    path = str(tmp_path / "keys" / "cloudfront.pem")
    with pytest.raises(KeyLoadError, match="does not exist") as info:
        load_private_key(path)
    assert repr(path) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def _snapshot(directory: Path) -> dict[str, str | None]:
    return {
        p.name: (p.read_text() if p.is_file() else None) for p in sorted(directory.iterdir())
    }


def test_a_directory_as_public_target_leaves_the_private_key_alone(tmp_path: Path) -> None:
    priv, pubdir = tmp_path / "priv.pem", tmp_path / "pubdir"
    priv.write_text("ORIGINAL-KEY")
    pubdir.mkdir()
    before = _snapshot(tmp_path)
    with pytest.raises(KeyMaterialError) as info:
        generate_key_pair(priv, pubdir, algorithm="ecdsa", overwrite=True)
    message = str(info.value)
    assert str(pubdir) in message
    assert ".tmp" not in message
    assert priv.read_text() == "ORIGINAL-KEY"
    assert _snapshot(tmp_path) == before
    assert list(pubdir.iterdir()) == []


def test_a_directory_as_private_target_is_named(tmp_path: Path) -> None:
    privdir, pub = tmp_path / "privdir", tmp_path / "pub.pem"
    privdir.mkdir()
    pub.write_text("ORIGINAL-PUB")
    with pytest.raises(KeyMaterialError, match="directory") as info:
        generate_key_pair(privdir, pub, algorithm="ecdsa", overwrite=True)
    assert str(privdir) in str(info.value)
    assert ".tmp" not in str(info.value)
    assert pub.read_text() == "ORIGINAL-PUB"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["privdir", "pub.pem"]


def test_a_missing_public_parent_is_found_before_anything_is_written(tmp_path: Path) -> None:
    priv, pub = tmp_path / "priv.pem", tmp_path / "nope" / "pub.pem"
    priv.write_text("ORIGINAL-KEY")
    before = _snapshot(tmp_path)
    with pytest.raises(KeyMaterialError, match="cannot write") as info:
        generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    assert str(pub) in str(info.value)
    assert ".tmp" not in str(info.value)
    assert _snapshot(tmp_path) == before


def _failing_replace(
    monkeypatch: pytest.MonkeyPatch, fail_for: Path
) -> list[tuple[str, str]]:
    """Make ``os.replace`` of a new temporary file onto ``fail_for`` fail as a full disk
    would (putting a backup back still works); record every call."""
    real = os.replace
    calls: list[tuple[str, str]] = []

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        calls.append((os.fspath(src), os.fspath(dst)))
        if os.path.abspath(dst) == os.path.abspath(fail_for) and str(src).endswith(".tmp"):
            raise OSError(28, "No space left on device", os.fspath(src))
        real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("hard_links", [True, False], ids=["hard-links", "no-hard-links"])
@pytest.mark.parametrize("failing", ["private", "public"])
def test_a_failed_rename_restores_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, hard_links: bool
) -> None:
    priv, pub = tmp_path / "priv.pem", tmp_path / "pub.pem"
    priv.write_text("ORIGINAL-KEY")
    pub.write_text("ORIGINAL-PUB")
    if POSIX:
        priv.chmod(0o600)
    before = _snapshot(tmp_path)
    target = priv if failing == "private" else pub
    _failing_replace(monkeypatch, target)
    if not hard_links:  # as on a file system without them: the old file is moved aside

        def no_link(*args: Any, **kwargs: Any) -> None:
            raise OSError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    with pytest.raises(KeyMaterialError, match="cannot write") as info:
        generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    monkeypatch.undo()
    assert str(target) in str(info.value)
    assert ".tmp" not in str(info.value)
    assert _snapshot(tmp_path) == before  # both originals back, no temporary file left
    if POSIX:
        assert priv.stat().st_mode & 0o777 == 0o600


def test_the_private_key_is_renamed_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    priv, pub = tmp_path / "priv.pem", tmp_path / "pub.pem"
    priv.write_text("ORIGINAL-KEY")
    pub.write_text("ORIGINAL-PUB")
    calls = _failing_replace(monkeypatch, tmp_path / "never")
    pair = generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    monkeypatch.undo()
    onto = [os.path.abspath(dst) for _, dst in calls]
    assert onto[-1] == str(priv)
    assert str(pub) in onto
    assert pub.read_text() == pair.public_key_pem()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["priv.pem", "pub.pem"]


@pytest.mark.parametrize("after", ["public", "private"])
def test_an_interrupt_right_after_a_rename_leaves_a_matching_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: str
) -> None:
    """Ctrl-C can land after os.replace returns and before its result is recorded:
    before the private key's rename (the commit point) the old pair comes back, after
    it the new pair stays; the files on disk are a pair either way, and no temporary
    or backup file is left."""
    priv, pub = tmp_path / "priv.pem", tmp_path / "pub.pem"
    priv.write_text("ORIGINAL-KEY")
    pub.write_text("ORIGINAL-PUB")
    real = os.replace
    target = priv if after == "private" else pub

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        real(src, dst, **kw)
        if os.path.abspath(dst) == str(target) and str(src).endswith(".tmp"):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["priv.pem", "pub.pem"]
    if after == "public":
        assert (priv.read_text(), pub.read_text()) == ("ORIGINAL-KEY", "ORIGINAL-PUB")
    else:
        key = load_private_key(priv)
        assert pub.read_text() == public_key_pem(key)


def test_generate_with_a_non_ascii_password_round_trips(tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path / "k.pem", str(tmp_path / "k.pub"), algorithm="ecdsa",
                             password="pw\u00e9")
    assert load_private_key(tmp_path / "k.pem", password="pw\u00e9").public_key() == \
        pair.public_key


# --- CLI -----------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_keygen_defaults(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "keygen")
    assert (code, err) == (0, "")
    priv, pub = in_tmp / "private_key.pem", in_tmp / "public_key.pem"
    key = load_private_key(priv)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert pub.read_text() == public_key_pem(key)
    assert key_fingerprint(key) in out
    assert "aws cloudfront create-public-key" in out
    assert "mediastore-ingest provision --public-key public_key.pem" in out
    if POSIX:
        assert _mode(priv) == 0o600
    # A second run refuses to overwrite: one-line error, exit 2, files untouched.
    before = priv.read_bytes()
    code, out, err = run(capsys, "keygen")
    assert code == 2
    assert out == ""
    assert err.startswith("mediastore-ingest: error: ")
    assert err.count("\n") == 1
    assert "--force" in err
    assert priv.read_bytes() == before
    code, out, _ = run(capsys, "keygen", "--force")
    assert code == 0
    assert priv.read_bytes() != before


def test_cli_keygen_json_ecdsa_encrypted(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY_PW", PASSWORD)
    code, out, err = run(
        capsys, "keygen", "--algorithm", "ecdsa", "--out", "sub.key", "--public-out", "sub.pub",
        "--password-env", "KEY_PW", "--json",
    )
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc == {
        "private_key_path": str(in_tmp / "sub.key"),
        "public_key_path": str(in_tmp / "sub.pub"),
        "algorithm": "ECDSA-P256",
        "encrypted": True,
        "fingerprint": key_fingerprint(load_public_key(in_tmp / "sub.pub")),
    }
    key = load_private_key(in_tmp / "sub.key", password=PASSWORD)
    assert key_fingerprint(key) == doc["fingerprint"]
    assert PASSWORD not in out


def test_cli_keygen_rsa_1024_prints_one_warning_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "keygen", "--rsa-bits", "1024", "--json")
    assert code == 0
    assert err == (
        "mediastore-ingest: warning: RSA 1024-bit key: key groups take RSA 2048 or ECDSA "
        "P-256 only; legacy key pairs accept 1024/4096\n"
    )


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_cli_keygen_password_env_problems(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    value: str | None,
) -> None:
    if value is None:
        monkeypatch.delenv("NO_SUCH_PW", raising=False)
    else:
        monkeypatch.setenv("NO_SUCH_PW", value)
    code, out, err = run(capsys, "keygen", "--password-env", "NO_SUCH_PW")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "NO_SUCH_PW" in err
    assert list(in_tmp.iterdir()) == []


def test_cli_keygen_unwritable_destination(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "keygen", "--algorithm", "ecdsa", "--out", "no/dir/k.pem")
    assert code == 1
    assert out == ""
    assert err.startswith("mediastore-ingest: error: cannot write")
    assert err.count("\n") == 1
    assert list(in_tmp.iterdir()) == []


def test_cli_public_key(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], ec_key: ec.EllipticCurvePrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (in_tmp / "k.pem").write_bytes(_private(ec_key, "PEM", "TRADITIONAL"))
    code, out, err = run(capsys, "public-key", "k.pem")
    assert (code, err) == (0, "")
    assert out == public_key_pem(ec_key)

    code, out, err = run(capsys, "public-key", "k.pem", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "EncodedKey": public_key_pem(ec_key), "Fingerprint": key_fingerprint(ec_key)
    }

    (in_tmp / "k.der").write_bytes(_private(ec_key, "DER", "PKCS8", PASSWORD.encode()))
    monkeypatch.setenv("PW", PASSWORD)
    code, out, err = run(capsys, "public-key", "k.der", "--password-env", "PW")
    assert (code, out, err) == (0, public_key_pem(ec_key), "")

    # A public key file works too (to fingerprint it).
    (in_tmp / "k.pub").write_text(public_key_pem(ec_key))
    code, out, _ = run(capsys, "public-key", "k.pub", "--json")
    assert code == 0
    assert json.loads(out)["Fingerprint"] == key_fingerprint(ec_key)


def test_cli_public_key_errors(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], ec_key: ec.EllipticCurvePrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (in_tmp / "enc.pem").write_bytes(_private(ec_key, "PEM", "PKCS8", PASSWORD.encode()))
    (in_tmp / "junk.pem").write_bytes(b"junk")
    monkeypatch.setenv("BAD_PW", "wrong")
    cases: list[tuple[list[str], str]] = [
        (["public-key", "enc.pem"], "a password is needed"),
        (["public-key", "enc.pem", "--password-env", "BAD_PW"], "wrong password"),
        (["public-key", "missing.pem"], "'missing.pem' does not exist"),
        (["public-key", "junk.pem"], "junk.pem"),
        (["public-key", "."], "directory"),
    ]
    for argv, expected in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        assert out == ""
        assert err.startswith("mediastore-ingest: error: "), err
        assert err.count("\n") == 1, err
        assert expected in err, err
        assert "wrong\n" not in err
        assert PASSWORD not in err


def test_cli_public_key_of_the_ruby_vector_warns_once(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = VECTORS / "aws-sdk-ruby-unit-test-key.pem"
    code, out, err = run(capsys, "public-key", str(path))
    assert code == 0
    assert out == RUBY_PUBLIC_PEM
    assert err.count("\n") == 1
    assert "warning: RSA 1024-bit key" in err


def test_cli_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "keygen" in out
    assert "public-key" in out


def test_cli_keygen_force_onto_a_directory_keeps_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("keep_me.pem").write_text("ORIGINAL-KEY")
    Path("pubdir").mkdir()
    code = main(["keygen", "--algorithm", "ecdsa", "--force", "--out", "keep_me.pem",
                     "--public-out", "pubdir"])
    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert err.startswith("mediastore-ingest: error: ")
    assert "pubdir" in err
    assert ".tmp" not in err
    assert Path("keep_me.pem").read_text() == "ORIGINAL-KEY"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep_me.pem", "pubdir"]
