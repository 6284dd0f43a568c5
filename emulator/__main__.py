"""Command line: ``python -m emulator start|stop|status``.

    python -m emulator start --port 4599 --pid-file .local/emulator.pid \\
        --log-file .local/emulator.log
    python -m emulator status --pid-file .local/emulator.pid
    python -m emulator stop --pid-file .local/emulator.pid
    python -m emulator fire-rule acme-data-dev-generator-schedule --port 4599

``start`` daemonizes the extended moto server, waits until it answers and prints its
endpoint (http://HOST:PORT) on stdout; if the pid file already names a healthy server it
just prints the endpoint. ``stop`` stops the server and removes the pid file, and succeeds
when nothing is running. ``status`` exits 0 when the server runs, 3 when it does not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .control import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    EmulatorError,
    endpoint_for,
    fire_rule,
    running_pid,
)
from .control import start as start_server
from .control import stop as stop_server

DEFAULT_PID_FILE = Path(".local/emulator.pid")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    start = sub.add_parser("start", help="start the server in the background")
    start.add_argument("--host", default=DEFAULT_HOST)
    start.add_argument("--port", type=int, default=DEFAULT_PORT)
    start.add_argument("--pid-file", type=Path, default=DEFAULT_PID_FILE)
    start.add_argument("--log-file", type=Path, help="server output (default: discarded)")
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (60)")

    stop = sub.add_parser("stop", help="stop the server; no error if it is not running")
    stop.add_argument("--pid-file", type=Path, default=DEFAULT_PID_FILE)

    status = sub.add_parser("status", help="exit 0 if running, 3 if not")
    status.add_argument("--pid-file", type=Path, default=DEFAULT_PID_FILE)

    fire = sub.add_parser("fire-rule", help="fire a scheduled EventBridge rule now")
    fire.add_argument("rule", help="the rule's name or ARN")
    fire.add_argument("--host", default=DEFAULT_HOST)
    fire.add_argument("--port", type=int, default=DEFAULT_PORT)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "start":
        try:
            emulator = start_server(
                host=args.host,
                port=args.port,
                pid_file=args.pid_file,
                log_file=args.log_file,
                timeout=args.timeout,
            )
        except EmulatorError as exc:
            print(f"emulator: {exc}", file=sys.stderr)
            return 1
        print(emulator.endpoint)
        return 0
    if args.command == "fire-rule":
        try:
            fired = fire_rule(endpoint_for(args.host, args.port), args.rule)
        except EmulatorError as exc:
            print(f"emulator: {exc}", file=sys.stderr)
            return 1
        print(f"fired {fired['rule']}: {fired['targets']} target(s) invoked")
        return 0
    if args.command == "stop":
        stopped = stop_server(args.pid_file)
        print("emulator: stopped" if stopped else "emulator: not running", file=sys.stderr)
        return 0
    pid = running_pid(args.pid_file)
    if pid is None:
        print("emulator: not running", file=sys.stderr)
        return 3
    print(f"emulator: running, pid {pid}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
