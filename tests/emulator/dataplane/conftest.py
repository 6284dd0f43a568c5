"""Fixtures for the data plane tests: real zips, real workers, an in-process moto server."""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.control import free_port
from emulator.dataplane.lambda_logs import LogSink, MemoryLogSink
from emulator.dataplane.lambda_runtime import Credentials, FunctionConfig, LambdaRuntime
from emulator.dataplane.lambda_site import RuntimeSite, build_site
from emulator.dataplane.supervisor import Supervisor

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


@pytest.fixture(scope="session")
def runtime_site() -> RuntimeSite:
    """The workers' environment (built once; kept while the pins are unchanged)."""
    return build_site()


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    owner = Supervisor()
    yield owner
    left = owner.children()
    owner.stop_all(grace=1)
    assert not left, f"workers left running after the test: {left}"


def fake_credentials(role_arn: str) -> Credentials:
    return Credentials("ASIA" + role_arn.rsplit("/", 1)[-1].upper()[:12], "secret-for-" + role_arn)


RuntimeFactory = Callable[..., LambdaRuntime]


@pytest.fixture
def make_runtime(
    supervisor: Supervisor, runtime_site: RuntimeSite, tmp_path: Path
) -> Iterator[RuntimeFactory]:
    """Builds runtimes that are shut down after the test; every worker must then be gone."""
    made: list[LambdaRuntime] = []

    def factory(
        log_sink: LogSink | None = None,
        endpoint_url: str = "http://127.0.0.1:9",
        credentials: Callable[[str], Credentials] = fake_credentials,
        **options: Any,
    ) -> LambdaRuntime:
        runtime = LambdaRuntime(
            supervisor=supervisor,
            site=runtime_site,
            endpoint_url=endpoint_url,
            credentials=credentials,
            log_sink=log_sink if log_sink is not None else MemoryLogSink(),
            work_dir=tmp_path / f"runtime-{len(made)}",
            **options,
        )
        made.append(runtime)
        return runtime

    yield factory
    pids = [info.pid for runtime in made for info in runtime.environments() if info.pid]
    for runtime in made:
        runtime.shutdown()
    assert not [pid for pid in pids if alive(pid)], "workers survived shutdown"
    assert supervisor.children() == []


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server in this process: what the sinks write is what clients read."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def aws_client(moto_endpoint: str) -> Callable[[str], Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return lambda service: session.client(service, endpoint_url=moto_endpoint)


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python 3.0 loads its protocol schemas with a deprecated importlib API.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*(read_text|open_text) is deprecated:DeprecationWarning"
    )
