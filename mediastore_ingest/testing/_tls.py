"""A throwaway certificate authority for the local test servers, and their TLS base.

``LocalCA`` creates an ECDSA P-256 CA and issues short-lived server certificates
for loopback names (``127.0.0.1`` and ``localhost`` by default, both in the
subjectAltName). The CA certificate is written to ``LocalCA.ca_bundle``, a PEM
file that urllib3, botocore (``verify=``) and curl (``--cacert``) accept.

Validity is computed from ``now`` (a parameter), never from a hidden clock read in the
middle of the work: pass ``now=`` to build certificates for any moment.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mediastore_ingest._internal.show import shown
from mediastore_ingest._internal.validate import (
    check,
    check_callable,
    check_path,
    instance_of,
    optional,
)
from mediastore_ingest.errors import InvalidInputError, LocalStackError
from mediastore_ingest.server.base import LocalHTTPServer, ServerLimits

__all__ = ["DEFAULT_HOSTS", "LocalCA", "TLSServer", "utcnow"]

#: Names every local server certificate covers unless told otherwise.
DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")

_BACKDATE = datetime.timedelta(minutes=5)
#: X.509 caps a commonName at 64 characters.
_MAX_COMMON_NAME = 64
#: A DNS name has at most 253 characters.
_MAX_HOST = 253


def utcnow() -> datetime.datetime:
    """The current time, timezone-aware (UTC): the default clock of the local servers."""
    return datetime.datetime.now(datetime.timezone.utc)


def _check_common_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_COMMON_NAME:
        raise InvalidInputError(
            f"{what} must be a str of 1-{_MAX_COMMON_NAME} characters, not {shown(value)}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid Unicode: {shown(value)}") from None
    return value


def _check_hosts(hosts: object) -> tuple[str, ...]:
    if isinstance(hosts, (str, bytes)) or not isinstance(hosts, Sequence) or not hosts:
        raise InvalidInputError(
            f"hosts must be a non-empty list of host names or IP addresses, not {shown(hosts)}"
        )
    for host in hosts:
        if (
            not isinstance(host, str)
            or not 1 <= len(host) <= _MAX_HOST
            or not host.isascii()
            or not host.isprintable()
            or " " in host
        ):
            raise InvalidInputError(
                f"each host must be an IP address or an ASCII DNS name (IDNA A-label) of "
                f"1-{_MAX_HOST} characters, not {shown(host)}"
            )
    first = hosts[0]
    if len(first) > _MAX_COMMON_NAME:
        raise InvalidInputError(
            f"the first host becomes the certificate's commonName: at most "
            f"{_MAX_COMMON_NAME} characters, not {len(first)}"
        )
    return tuple(hosts)


def _san_entry(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class LocalCA:
    """A CA that exists only for one test run, plus the server contexts it signs.

    ``directory`` is where ``ca_bundle`` is written; by default a private temporary
    directory that ``close`` removes. ``now`` (a callable returning an aware
    datetime) is read once per certificate to compute ``notBefore``/``notAfter``;
    ``validity`` is how long each certificate lives.

    The private keys never leave this object except inside an ``ssl.SSLContext``;
    they are not shown by ``repr``.
    """

    def __init__(
        self,
        *,
        directory: str | os.PathLike[str] | None = None,
        now: Callable[[], datetime.datetime] = utcnow,
        validity: datetime.timedelta = datetime.timedelta(hours=12),
        common_name: str = "mediastore_ingest local test CA",
    ) -> None:
        if not isinstance(validity, datetime.timedelta) or validity <= datetime.timedelta(0):
            raise InvalidInputError(f"validity must be a positive timedelta, not {validity!r}")
        check_callable("now", now)
        name_text = _check_common_name(common_name, "common_name")
        check_path("directory", directory)
        if directory is not None and Path(directory).exists() and not Path(directory).is_dir():
            raise InvalidInputError(f"directory {str(directory)!r} exists and is not a directory")
        self._now = now
        self._validity = validity
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name_text)])
        not_before, not_after = self._window()
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        try:
            if directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix="mediastore-ingest-ca-"))
                self._owns_directory = True
            else:
                self._directory = Path(directory)
                self._owns_directory = False
                self._directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = directory if directory is not None else f"(new, in {tempfile.gettempdir()})"
            raise LocalStackError(f"cannot create the CA directory {where}") from exc
        self._ca_bundle = self._directory / "local-ca.pem"
        try:
            self._ca_bundle.write_bytes(self.ca_pem)
        except OSError as exc:
            self.close()
            raise LocalStackError(f"cannot write the CA bundle to {self._ca_bundle}") from exc

    def __repr__(self) -> str:
        return f"LocalCA(ca_bundle={str(self._ca_bundle)!r})"

    def _window(self) -> tuple[datetime.datetime, datetime.datetime]:
        now = self._now()
        if not isinstance(now, datetime.datetime) or now.utcoffset() is None:
            raise InvalidInputError(f"now() must return an aware datetime, not {now!r:.80}")
        return now - _BACKDATE, now + self._validity

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate, PEM encoded."""
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def ca_certificate(self) -> x509.Certificate:
        """The CA certificate."""
        return self._cert

    @property
    def ca_bundle(self) -> str:
        """Path of the PEM file holding the CA certificate (for ``verify=``/``--cacert``)."""
        return str(self._ca_bundle)

    def issue_server_certificate(
        self, hosts: Sequence[str] = DEFAULT_HOSTS
    ) -> tuple[bytes, bytes]:
        """Issue a server certificate for ``hosts``; return ``(cert_pem, key_pem)``.

        ``cert_pem`` holds the leaf followed by the CA certificate. ``key_pem`` is an
        unencrypted PKCS#8 private key: handle it as a secret.
        """
        hosts = _check_hosts(hosts)
        key = ec.generate_private_key(ec.SECP256R1())
        not_before, not_after = self._window()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([_san_entry(h) for h in hosts]), critical=False
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert_pem, key_pem

    def server_context(self, hosts: Sequence[str] = DEFAULT_HOSTS) -> ssl.SSLContext:
        """A server-side ``ssl.SSLContext`` presenting a fresh certificate for ``hosts``."""
        cert_pem, key_pem = self.issue_server_certificate(hosts)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # load_cert_chain only reads files: write them privately, load, delete.
        fd, key_path = tempfile.mkstemp(prefix="server-", suffix=".pem", dir=self._directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(cert_pem + key_pem)
            context.load_cert_chain(key_path)
        except (OSError, ssl.SSLError) as exc:
            raise LocalStackError("cannot build the local server TLS context") from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side ``ssl.SSLContext`` that trusts only this CA."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def close(self) -> None:
        """Remove the temporary directory (when this CA created it)."""
        if self._owns_directory:
            shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> LocalCA:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TLSServer(LocalHTTPServer):
    """A local server that speaks HTTPS (``tls=True``) with a certificate from ``ca``,
    or from a ``LocalCA`` of its own, which ``close`` removes again.

    A CA made here is closed again if binding fails, so nothing is left behind.
    ``limits`` are the server core's (``ServerLimits``; its defaults when ``None``).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: bool,
        ca: LocalCA | None,
        limits: ServerLimits | None = None,
    ) -> None:
        check("limits", limits, optional(instance_of(ServerLimits)))
        owned = tls and ca is None
        chosen = (LocalCA() if ca is None else ca) if tls else None
        try:
            super().__init__(
                host=host,
                port=port,
                ssl_context=None if chosen is None else chosen.server_context(),
                **attrs.asdict(limits or ServerLimits()),
            )
        except BaseException:
            if owned and chosen is not None:
                chosen.close()
            raise
        self._ca, self._owns_ca = chosen, owned

    def close(self) -> None:
        """Stop, and remove the CA files if this server created its CA."""
        self.stop()
        if self._owns_ca and self._ca is not None:
            self._ca.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def ca(self) -> LocalCA | None:
        """The ``LocalCA`` in use, if any."""
        return self._ca

    @property
    def ca_bundle(self) -> str | None:
        """Path of the CA PEM that signed the server certificate (``None`` without TLS)."""
        return None if self._ca is None else self._ca.ca_bundle
