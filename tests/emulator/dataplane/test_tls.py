"""The deploy's CA: files, reuse, and trust through SSL_CERT_FILE alone (no client option)."""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from emulator.dataplane.tls import (
    TlsSettings,
    create_local_ca,
    ensure_local_ca,
    system_ca_bundle,
)

# What kafka-python 3.0.12 does to build its client context when no ssl_* option is set
# (KafkaSSLTransport._build_ssl_context): the probe runs that code, not a copy of it.
PROBE = """
import socket, sys
from kafka.net.transport import KafkaSSLTransport
context = KafkaSSLTransport._build_ssl_context(dict(KafkaSSLTransport.DEFAULT_CONFIG))
host, port = sys.argv[1], int(sys.argv[2])
with context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=host) as s:
    print(s.recv(5).decode())
"""


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A TLS server with the local CA's server certificate; yields (CA dir, port)."""
    files = ensure_local_ca(tmp_path / "ca")
    context = files.server_context()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(client, server_side=True) as tls:
                    tls.sendall(b"hello")
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: what the negative case expects

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield tmp_path / "ca", port
    stop.set()
    thread.join(2)
    listener.close()


def probe(port: int, host: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSL_CERT", "AWS_CA"))}
    return subprocess.run(
        [sys.executable, "-c", PROBE, host, str(port)],
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_kafka_python_trusts_the_local_ca_through_ssl_cert_file_only(
    tls_server: tuple[Path, int],
) -> None:
    directory, port = tls_server
    bundle = str(directory / "trust-bundle.pem")
    for host in ("127.0.0.1", "localhost"):  # IP SAN and DNS SAN
        trusted = probe(port, host, {"SSL_CERT_FILE": bundle})
        assert trusted.returncode == 0, trusted.stderr
        assert trusted.stdout.strip() == "hello"
    untrusted = probe(port, "127.0.0.1", {})
    assert untrusted.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


def test_a_name_outside_the_certificate_is_refused(tls_server: tuple[Path, int]) -> None:
    directory, port = tls_server
    wrong = probe(port, "127.0.0.2", {"SSL_CERT_FILE": str(directory / "trust-bundle.pem")})
    assert wrong.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in wrong.stderr


def test_files_bundle_and_environment(tmp_path: Path) -> None:
    system = system_ca_bundle()
    assert system is not None
    files = ensure_local_ca(tmp_path / "ca")
    for path in (files.ca_cert, files.ca_key, files.server_cert, files.server_key):
        assert path.is_file()
    assert oct(files.ca_key.stat().st_mode & 0o777) == "0o600"
    assert oct(files.server_key.stat().st_mode & 0o777) == "0o600"
    bundle = files.trust_bundle.read_bytes()
    assert bundle.startswith(system.read_bytes().rstrip(b"\n"))  # every public CA kept
    assert bundle.endswith(files.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert files.worker_environment() == {
        "SSL_CERT_FILE": str(files.trust_bundle),
        "AWS_CA_BUNDLE": str(files.trust_bundle),
        "REQUESTS_CA_BUNDLE": str(files.trust_bundle),
    }


def test_a_valid_ca_is_reused_and_a_mismatched_one_replaced(tmp_path: Path) -> None:
    first = ensure_local_ca(tmp_path / "ca").ca_cert.read_bytes()
    assert ensure_local_ca(tmp_path / "ca").ca_cert.read_bytes() == first
    other_names = TlsSettings(dns_names=("localhost", "msk.local"))
    assert ensure_local_ca(tmp_path / "ca", other_names).ca_cert.read_bytes() != first
    # Expiring within a day: replaced.
    create_local_ca(tmp_path / "short", TlsSettings(validity=datetime.timedelta(hours=2)))
    short = (tmp_path / "short" / "ca.pem").read_bytes()
    assert ensure_local_ca(tmp_path / "short").ca_cert.read_bytes() != short


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dns_names": (), "ip_addresses": ()},
        {"dns_names": ("bad name",)},
        {"ip_addresses": ("127.0.0.300",)},
        {"validity": datetime.timedelta(0)},
    ],
)
def test_settings_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TlsSettings(**kwargs)  # type: ignore[arg-type]
