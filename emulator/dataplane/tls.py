"""A certificate authority made for one local deploy, and what workers need to trust it.

The MSK front door (:mod:`emulator.dataplane.msk`) speaks TLS as MSK's IAM listener does.
Clients must verify its certificate without a code path that only tests take, so the trust
goes through the standard environment:

* ``ca.pem`` / ``ca-key.pem``: a fresh CA for this deploy (EC P-256, ten days; the key
  stays in the directory, mode 0600, so more certificates can be issued later);
* ``server.pem`` / ``server-key.pem``: the front door's certificate, SANs ``localhost``
  and ``IP:127.0.0.1`` (clients connect to the address GetBootstrapBrokers reports);
* ``trust-bundle.pem``: the system's CAs followed by the local CA.

:meth:`TlsFiles.worker_environment` gives ``SSL_CERT_FILE`` (and ``AWS_CA_BUNDLE``,
``REQUESTS_CA_BUNDLE``) pointing at the bundle. kafka-python 3.0.12 builds its client context
with ``ssl.SSLContext(PROTOCOL_TLS_CLIENT)`` and, when no ``ssl_cafile`` is configured,
calls ``load_default_certs()``, which on Linux is OpenSSL's ``set_default_verify_paths``:
that reads ``SSL_CERT_FILE`` (instead of the built-in CA file, hence the system CAs in the
bundle). botocore and requests do not read ``SSL_CERT_FILE`` (they use certifi), which is
what the other two variables are for; the bundle keeps every public CA, so setting them
takes no trust away.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT: Final = "ca.pem"
CA_KEY: Final = "ca-key.pem"
SERVER_CERT: Final = "server.pem"
SERVER_KEY: Final = "server-key.pem"
TRUST_BUNDLE: Final = "trust-bundle.pem"

DEFAULT_DNS_NAMES: Final = ("localhost",)
DEFAULT_IP_ADDRESSES: Final = ("127.0.0.1",)
# Long enough for any local session, short enough that a leaked CA is soon worthless.
DEFAULT_VALIDITY: Final = datetime.timedelta(days=10)
# Certificates start a little in the past: a client clock slightly behind still accepts them.
BACKDATE: Final = datetime.timedelta(minutes=5)

# Where the system CAs are, in the order they are tried (certifi first: it is what botocore
# and requests trust, and it is in every environment that has either).
SYSTEM_BUNDLE_CANDIDATES: Final = (
    Path("/etc/ssl/certs/ca-certificates.crt"),  # Debian, Ubuntu, Alpine
    Path("/etc/pki/tls/certs/ca-bundle.crt"),  # Fedora, RHEL, Amazon Linux
    Path("/etc/ssl/cert.pem"),  # macOS, BSDs
)


class TlsError(RuntimeError):
    """The CA directory cannot be created or read."""


@dataclass(frozen=True)
class TlsSettings:
    """What the local CA issues. Frozen and checked: bad names fail here, not in a client."""

    dns_names: tuple[str, ...] = DEFAULT_DNS_NAMES
    ip_addresses: tuple[str, ...] = DEFAULT_IP_ADDRESSES
    validity: datetime.timedelta = DEFAULT_VALIDITY

    def __post_init__(self) -> None:
        if not self.dns_names and not self.ip_addresses:
            raise ValueError("the server certificate needs at least one DNS name or IP address")
        for name in self.dns_names:
            if not name or any(c.isspace() for c in name) or "/" in name:
                raise ValueError(f"not a DNS name: {name!r}")
        for address in self.ip_addresses:
            ipaddress.ip_address(address)  # raises ValueError with the bad value
        if self.validity <= datetime.timedelta(0):
            raise ValueError(f"validity must be positive, got {self.validity}")


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of one local deploy's CA (see the module docstring)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / CA_CERT

    @property
    def ca_key(self) -> Path:
        return self.directory / CA_KEY

    @property
    def server_cert(self) -> Path:
        return self.directory / SERVER_CERT

    @property
    def server_key(self) -> Path:
        return self.directory / SERVER_KEY

    @property
    def trust_bundle(self) -> Path:
        return self.directory / TRUST_BUNDLE

    def worker_environment(self) -> dict[str, str]:
        """Variables that make a worker process trust the local CA (and every public one)."""
        bundle = str(self.trust_bundle)
        return {"SSL_CERT_FILE": bundle, "AWS_CA_BUNDLE": bundle, "REQUESTS_CA_BUNDLE": bundle}

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2+ server context with the front door's certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def system_ca_bundle() -> Path | None:
    """The system's CA file: certifi's if installed, else the distribution's."""
    try:
        import certifi
    except ImportError:
        certifi_path = None
    else:
        certifi_path = Path(certifi.where())
    candidates: list[Path] = [certifi_path] if certifi_path is not None else []
    default = ssl.get_default_verify_paths().cafile
    candidates += [*SYSTEM_BUNDLE_CANDIDATES, *([Path(default)] if default else [])]
    return next((path for path in candidates if path.is_file()), None)


def ensure_local_ca(
    directory: Path,
    settings: TlsSettings | None = None,
    *,
    system_bundle: Path | None = None,
) -> TlsFiles:
    """The CA in ``directory``, created there if missing, unreadable, expiring or mismatched.

    Reusing a valid CA keeps certificates stable across emulator restarts of one deploy;
    delete the directory (``make destroy-local`` should) to get a new CA.
    ``system_bundle`` defaults to :func:`system_ca_bundle`.
    """
    settings = settings or TlsSettings()
    files = TlsFiles(directory)
    if not _usable(files, settings):
        create_local_ca(directory, settings)
    _write_bundle(files, system_bundle if system_bundle is not None else system_ca_bundle())
    return files


def create_local_ca(directory: Path, settings: TlsSettings | None = None) -> TlsFiles:
    """A new CA and server certificate in ``directory`` (replacing any there)."""
    settings = settings or TlsSettings()
    files = TlsFiles(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    except OSError as error:
        raise TlsError(f"cannot create the CA directory {directory}: {error}") from error
    now = datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - BACKDATE, now + settings.validity

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ACME telemetry local emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"local deploy CA {now:%Y-%m-%dT%H:%M:%SZ}"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in settings.dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in settings.ip_addresses]
    common_name = settings.dns_names[0] if settings.dns_names else settings.ip_addresses[0]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    _write_private(files.ca_key, _key_pem(ca_key))
    _write_private(files.server_key, _key_pem(server_key))
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    return files


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _usable(files: TlsFiles, settings: TlsSettings) -> bool:
    """True if the files exist, parse, match the settings and stay valid for a day."""
    try:
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), None)
        files.ca_key.read_bytes()
    except (OSError, ValueError):
        return False
    if server.public_key() != key.public_key():
        return False
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    if min(ca.not_valid_after_utc, server.not_valid_after_utc) < soon:
        return False
    if server.issuer != ca.subject:
        return False
    try:
        san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    dns = tuple(san.get_values_for_type(x509.DNSName))
    ips = tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    return set(dns) == set(settings.dns_names) and set(ips) == set(settings.ip_addresses)


def _write_bundle(files: TlsFiles, system_bundle: Path | None) -> None:
    parts: Sequence[bytes] = [
        *([system_bundle.read_bytes().rstrip(b"\n") + b"\n"] if system_bundle else []),
        b"# ACME telemetry local emulator: this deploy's CA\n",
        files.ca_cert.read_bytes(),
    ]
    temporary = files.trust_bundle.with_suffix(".tmp")
    temporary.write_bytes(b"".join(parts))
    temporary.replace(files.trust_bundle)  # a reader never sees half a bundle
