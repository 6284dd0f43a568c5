"""Run moto's real HTTP server with the emulator extensions and the data plane patched in.

    python -m emulator.server --host 127.0.0.1 --port 4599 --workdir .local/dataplane [--pid-file F]

This is moto's own server (``moto.server``: a Werkzeug WSGI server around
``DomainDispatcherApplication``), not the in-process ``ThreadedMotoServer``. Before the
application is built it:

* sets ``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` so AWS managed IAM policies can be attached;
* installs the control-plane extensions (:mod:`emulator.kafka`, :mod:`emulator.lambda_esm`,
  :mod:`emulator.firehose`, ...), each of which checks the moto version;
* starts the data plane (:mod:`emulator.dataplane`): deployed Lambda code runs, MSK clusters
  are served by real brokers, schedules fire, event source mappings poll. It keeps its files
  under ``--workdir`` and is stopped with the server (every child process with it);
* applies the moto config ``{"lambda": {"use_docker": false}}``, the same change a
  ``POST /moto-api/config`` makes, so moto never looks for Docker (the data plane runs the
  functions).

Once it listens, a background thread warms up every service the stacks call
(:mod:`emulator.warmup`), so no service's first real call pays moto's lazy set-up.

It runs in the foreground; ``python -m emulator start`` daemonizes it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from werkzeug.serving import run_simple

from . import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    athena,
    ec2_rules,
    firehose,
    iam_conditions,
    kafka,
    lambda_create,
    lambda_esm,
    warmup,
)
from ._compat import check_moto_version
from .dataplane import plane as dataplane

LAMBDA_CONFIG = {"lambda": {"use_docker": False}}


def install_extensions() -> None:
    """Patch every extension into moto (idempotent)."""
    check_moto_version(__name__)
    athena.install()
    ec2_rules.install()
    kafka.install()
    lambda_create.install()
    lambda_esm.install()
    firehose.install()
    iam_conditions.install()


def apply_startup_config() -> None:
    """What ``POST /moto-api/config {"lambda": {"use_docker": false}}`` does, done at startup."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.set_config(dict(LAMBDA_CONFIG))


def build_app(host: str, port: int, workdir: Path) -> tuple[object, dataplane.DataPlane]:
    """Environment, extensions, config and data plane first; then moto's dispatcher."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    os.environ.setdefault("MOTO_PORT", str(port))
    install_extensions()
    apply_startup_config()
    plane = dataplane.start(
        dataplane.DataPlaneSettings(workdir=workdir, endpoint_url=f"http://{host}:{port}")
    )

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]  # as moto.server does
    return app, plane


def _write_pid_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n", encoding="utf-8")


def _remove_own_pid_file(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        if int(path.read_text(encoding="utf-8").strip()) == os.getpid():
            path.unlink()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.server",
        description="moto server extended for the ACME telemetry platform (foreground)",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"bind address ({DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    parser.add_argument("--pid-file", type=Path, help="write this process's id here")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".local/dataplane"),
        help="the data plane's files: CA, Lambda code, broker logs (.local/dataplane)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app, plane = build_app(args.host, args.port, args.workdir.resolve())
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)

    from moto.moto_server.werkzeug_app import MotoRequestHandler

    if args.pid_file:
        _write_pid_file(args.pid_file)
    # Each service's first request builds its app and backend; do that now, not mid-deploy.
    warmup.start_in_background(args.host, args.port)
    try:
        run_simple(
            args.host,
            args.port,
            app,  # type: ignore[arg-type]
            threaded=True,
            request_handler=MotoRequestHandler,
        )
    finally:
        plane.stop()
        if args.pid_file:
            _remove_own_pid_file(args.pid_file)


if __name__ == "__main__":
    main()
