"""Lambda runtime test helpers: a handler module for most tests, zips, function configs."""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.dataplane.credentials import Credentials
from emulator.dataplane.lambda_runtime import FunctionConfig, LambdaRuntime

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/test-function-role"

# One handler module for most tests: the event's "action" says what to do.
APP = textwrap.dedent(
    """
    import json, os, signal, sys, time

    STATE = {"count": 0}
    print("init of app in", os.getpid())


    def handler(event, context):
        STATE["count"] += 1
        action = event.get("action")
        if action == "context":
            return {
                "function_name": context.function_name,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "invoked_function_arn": context.invoked_function_arn,
                "log_stream_name": context.log_stream_name,
                "function_version": context.function_version,
            }
        if action == "env":
            return {"env": dict(os.environ), "cwd": os.getcwd(), "sys_path": sys.path}
        if action == "fail":
            raise ValueError("boom " + str(event.get("n", "")))
        if action == "sleep":
            with open(event["pid_file"], "w") as f:
                f.write(str(os.getpid()))
            time.sleep(event["seconds"])
            return {"slept": event["seconds"], "pid": os.getpid()}
        if action == "exit":
            sys.stdout.write("about to exit\\n")
            os._exit(event["code"])
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "big":
            return "x" * event["size"]
        if action == "print":
            for line in event["lines"]:
                print(line)
            return "printed"
        if action == "sts":
            import boto3

            return boto3.client("sts").get_caller_identity()["Arn"]
        if action == "import":
            module = __import__(event["module"])
            return getattr(module, "__file__", None)
        if action == "attempt":
            with open(os.environ["ATTEMPTS_FILE"], "a") as f:
                f.write(json.dumps({"t": time.time(), "id": context.aws_request_id}) + "\\n")
            if event.get("fail"):
                raise RuntimeError("attempt failed")
            return {"ok": True, "echo": event}
        return {"pid": os.getpid(), "count": STATE["count"]}
    """
)


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def function_config(
    name: str = "fn", files: dict[str, str] | None = None, **overrides: Any
) -> FunctionConfig:
    fields: dict[str, Any] = {
        "function_name": name,
        "function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "handler": "app.handler",
        "code": make_zip(files or {"app.py": APP}),
        "role_arn": ROLE_ARN,
        "region": REGION,
        "account_id": ACCOUNT,
        "timeout": 5,
        "memory_size": 256,
    }
    fields.update(overrides)
    return FunctionConfig(**fields)


def alive(pid: int) -> bool:
    """Running (not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def fake_credentials(role_arn: str) -> Credentials:
    return Credentials("ASIA" + role_arn.rsplit("/", 1)[-1].upper()[:12], "secret-for-" + role_arn)


RuntimeFactory = Callable[..., LambdaRuntime]
