"""Invocations run the deployed zip in real awslambdaric workers, with Lambda's answers."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.dataplane.lambda_logs import MemoryLogSink
from emulator.dataplane.lambda_runtime import (
    SYNC_REQUEST_LIMIT,
    SYNC_RESPONSE_LIMIT,
    Credentials,
    InvokeResult,
    LambdaRuntime,
    LambdaServiceError,
)
from emulator.dataplane.lambda_site import RuntimeSite
from tests.support.lambda_workers import (
    ACCOUNT,
    REGION,
    ROLE_ARN,
    RuntimeFactory,
    alive,
    function_config,
)

STREAM_NAME = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


def call(runtime: LambdaRuntime, fn: Any, event: dict[str, Any], **kwargs: Any) -> Any:
    result = runtime.invoke(fn, json.dumps(event).encode(), **kwargs)
    assert result.status_code == 200
    return result, json.loads(result.payload)


def report_lines(sink: MemoryLogSink, group: str) -> list[str]:
    return [m for m in sink.messages(group) if m.startswith("REPORT ")]


def test_result_and_context(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    fn = function_config(timeout=7, memory_size=384)
    result, body = call(runtime, fn, {"action": "context"})
    assert result.function_error is None
    assert result.executed_version == "$LATEST"
    assert body["function_name"] == "fn"
    assert body["memory_limit_in_mb"] == "384"
    assert body["aws_request_id"] == result.request_id
    assert body["invoked_function_arn"] == fn.function_arn
    assert body["function_version"] == "$LATEST"
    assert STREAM_NAME.match(body["log_stream_name"])
    assert 6000 < body["remaining_ms"] <= 7000  # the deadline is the function's timeout


def test_environment_of_the_worker(
    make_runtime: RuntimeFactory, monkeypatch: pytest.MonkeyPatch, runtime_site: RuntimeSite
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "this-machines-profile")  # must not reach the worker
    runtime = make_runtime(
        endpoint_url="http://127.0.0.1:4599", extra_env={"SSL_CERT_FILE": "/tmp/local-ca.pem"}
    )
    fn = function_config(environment={"TABLE": "connections", "TZ": "Europe/Paris"})
    _, body = call(runtime, fn, {"action": "env"})
    env = body["env"]
    code_dir = body["cwd"]
    assert env["LAMBDA_TASK_ROOT"] == code_dir
    assert Path(code_dir, "app.py").is_file()
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert STREAM_NAME.match(env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert re.match(r"^127\.0\.0\.1:\d+$", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert env["SSL_CERT_FILE"] == "/tmp/local-ca.pem"
    assert env["TABLE"] == "connections"
    assert env["TZ"] == "Europe/Paris"  # TZ is the function's to set (default :UTC)
    assert env["AWS_ACCESS_KEY_ID"] == "ASIATEST-FUNCTIO"
    assert env["AWS_SECRET_ACCESS_KEY"] == f"secret-for-{ROLE_ARN}"
    assert "AWS_PROFILE" not in env
    # Only the zip and the runtime's own packages are importable.
    site_packages = str(runtime_site.site_packages)
    assert body["sys_path"][0] == code_dir
    assert site_packages in body["sys_path"]
    assert not [p for p in body["sys_path"] if "site-packages" in p and p != site_packages]


def test_default_timezone_is_utc(make_runtime: RuntimeFactory) -> None:
    _, body = call(make_runtime(), function_config(), {"action": "env"})
    assert body["env"]["TZ"] == ":UTC"


def test_sdk_talks_to_the_emulator_with_the_roles_credentials(
    make_runtime: RuntimeFactory, moto_endpoint: str, aws_client: Any
) -> None:
    sts = aws_client("sts")

    def role_credentials(role_arn: str) -> Credentials:
        found = sts.assume_role(RoleArn=role_arn, RoleSessionName="fn")["Credentials"]
        return Credentials(found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"])

    runtime = make_runtime(endpoint_url=moto_endpoint, credentials=role_credentials)
    _, arn = call(runtime, function_config(), {"action": "sts"})
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/test-function-role/fn"


def test_function_error_is_lambdas_unhandled_shape(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    result, body = call(runtime, function_config(), {"action": "fail", "n": 7})
    assert result.function_error == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom 7"
    assert body["requestId"] == result.request_id
    assert any("raise ValueError" in frame for frame in body["stackTrace"])


def test_warm_worker_is_reused_and_keeps_module_state(make_runtime: RuntimeFactory) -> None:
    sink = MemoryLogSink()
    runtime = make_runtime(log_sink=sink)
    fn = function_config()
    _, first = call(runtime, fn, {})
    _, second = call(runtime, fn, {})
    _, after_error = (call(runtime, fn, {"action": "fail"}), call(runtime, fn, {}))[1]
    assert first["pid"] == second["pid"] == after_error["pid"]
    assert (first["count"], second["count"], after_error["count"]) == (1, 2, 4)
    assert len(runtime.environments()) == 1
    reports = report_lines(sink, "/aws/lambda/fn")
    assert "Init Duration" in reports[0]
    assert all("Init Duration" not in line for line in reports[1:])
    assert len(sink.streams("/aws/lambda/fn")) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"environment": {"MODE": "changed"}},
        {"timeout": 9},
        {"memory_size": 512},
        {"files": {"app.py": "import os\ndef handler(e, c):\n    return {'pid': os.getpid()}\n"}},
    ],
    ids=["environment", "timeout", "memory", "code"],
)
def test_changed_configuration_or_code_gets_a_new_worker(
    make_runtime: RuntimeFactory, change: dict[str, Any]
) -> None:
    runtime = make_runtime()
    _, before = call(runtime, function_config(), {})
    _, after = call(runtime, function_config(**change), {})
    assert after["pid"] != before["pid"]
    assert not alive(before["pid"]), "the old configuration's worker is still running"
    assert [info.pid for info in runtime.environments()] == [after["pid"]]


def test_timeout_kills_the_worker_and_reports_it(
    make_runtime: RuntimeFactory, tmp_path: Path
) -> None:
    sink = MemoryLogSink()
    runtime = make_runtime(log_sink=sink)
    fn = function_config(timeout=1)
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    result, body = call(runtime, fn, {"action": "sleep", "seconds": 30, "pid_file": str(pid_file)})
    elapsed = time.monotonic() - started
    assert elapsed < 5
    assert result.function_error == "Unhandled"
    assert body == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds",
    }
    pid = int(pid_file.read_text())
    assert not alive(pid), "the timed-out worker is still running"
    report = report_lines(sink, "/aws/lambda/fn")[-1]
    assert report.startswith(f"REPORT RequestId: {result.request_id}\tDuration: 1000.00 ms\t")
    assert report.endswith("\tStatus: timeout\n")
    # The environment is reset: same log stream, a new process whose init is part of the
    # next invocation's duration (no Init Duration field).
    _, again = call(runtime, fn, {})
    assert again["pid"] != pid
    assert len(sink.streams("/aws/lambda/fn")) == 1
    assert "Init Duration" not in report_lines(sink, "/aws/lambda/fn")[-1]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"action": "exit", "code": 3}, "Runtime exited with error: exit status 3"),
        ({"action": "kill"}, "Runtime exited with error: signal: killed"),
    ],
    ids=["exit-status", "signal"],
)
def test_crashed_worker_reports_runtime_exit(
    make_runtime: RuntimeFactory, event: dict[str, Any], reason: str
) -> None:
    sink = MemoryLogSink()
    runtime = make_runtime(log_sink=sink)
    fn = function_config()
    _, warm = call(runtime, fn, {})
    result, body = call(runtime, fn, event)
    assert result.function_error == "Unhandled"
    assert body == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: {reason}",
    }
    assert not alive(warm["pid"])
    assert report_lines(sink, "/aws/lambda/fn")[-1].endswith(
        "\tStatus: error\tError Type: Runtime.ExitError\n"
    )
    _, again = call(runtime, fn, {})
    assert again["pid"] != warm["pid"] and again["count"] == 1


def test_init_error_is_reported_as_lambda_reports_it(make_runtime: RuntimeFactory) -> None:
    sink = MemoryLogSink()
    runtime = make_runtime(log_sink=sink)
    source = (
        "print('initialising')\nraise RuntimeError('no config')\ndef handler(e, c):\n    pass\n"
    )
    fn = function_config(files={"app.py": source})
    result, body = call(runtime, fn, {})
    assert result.function_error == "Unhandled"
    assert body["errorType"] == "RuntimeError"
    assert body["errorMessage"] == "no config"
    messages = sink.messages("/aws/lambda/fn")
    # Lambda tries the init twice: in the Init phase, then again inside the invocation.
    assert messages.count("initialising\n") == 2
    init_reports = [m for m in messages if m.startswith("INIT_REPORT ")]
    assert [re.sub(r"Duration: [\d.]+ ms", "Duration: X", m) for m in init_reports] == [
        "INIT_REPORT Init Duration: X\tPhase: init\tStatus: error\tError Type: RuntimeError\n",
        "INIT_REPORT Init Duration: X\tPhase: invoke\tStatus: error\tError Type: RuntimeError\n",
    ]
    assert messages[-1].endswith("\tStatus: error\tError Type: RuntimeError\n")
    assert messages.index(init_reports[1]) < messages.index(
        f"START RequestId: {result.request_id} Version: $LATEST\n"
    )


def test_handler_not_found(make_runtime: RuntimeFactory) -> None:
    result, body = call(make_runtime(), function_config(handler="app.missing"), {})
    assert result.function_error == "Unhandled"
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'missing' missing on module 'app'"


def test_zip_missing_a_dependency_fails_as_on_aws(make_runtime: RuntimeFactory) -> None:
    """kafka-python is in the emulator's virtualenv, not in the runtime: it must not import."""
    import kafka  # noqa: F401  # the test would prove nothing if this failed here

    source = "import kafka\ndef handler(e, c):\n    return kafka.__file__\n"
    runtime = make_runtime()
    result, body = call(runtime, function_config(files={"app.py": source}), {})
    assert result.function_error == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'kafka'"
    # Packaged with its dependency, the same code works, and imports it from the zip.
    packaged = function_config(files={"app.py": source, "kafka/__init__.py": "VERSION = 1\n"})
    result, path = call(runtime, packaged, {})
    assert result.function_error is None
    assert path.endswith("/kafka/__init__.py") and "site-packages" not in path


def test_the_runtimes_sdk_is_there(make_runtime: RuntimeFactory, runtime_site: RuntimeSite) -> None:
    _, path = call(make_runtime(), function_config(), {"action": "import", "module": "boto3"})
    assert path.startswith(str(runtime_site.site_packages))


def test_output_is_framed_by_lambdas_lines_in_order(make_runtime: RuntimeFactory) -> None:
    sink = MemoryLogSink()
    runtime = make_runtime(log_sink=sink)
    fn = function_config()
    result, _ = call(runtime, fn, {"action": "print", "lines": ["one", "two"]}, log_type="Tail")
    rid = result.request_id
    messages = sink.messages("/aws/lambda/fn")
    assert messages[0].startswith("INIT_START Runtime Version: python:3.13.")
    assert messages[1].startswith("init of app in ")
    assert messages[2:6] == [
        f"START RequestId: {rid} Version: $LATEST\n",
        "one\n",
        "two\n",
        f"END RequestId: {rid}\n",
    ]
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms\n",
        messages[6],
    )
    assert result.log_result is not None
    tail = base64.b64decode(result.log_result).decode()
    assert tail.startswith(f"START RequestId: {rid}") and "\none\ntwo\nEND" in tail
    assert tail.endswith(messages[6])
    without = runtime.invoke(fn, b"{}")
    assert without.log_result is None


def test_error_lines_are_one_event_each(make_runtime: RuntimeFactory) -> None:
    sink = MemoryLogSink()
    call(make_runtime(log_sink=sink), function_config(), {"action": "fail"})
    error = next(m for m in sink.messages("/aws/lambda/fn") if m.startswith("[ERROR]"))
    assert error.startswith("[ERROR] ValueError: boom \nTraceback (most recent call last):\n")


def test_payload_limits_and_shapes(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    fn = function_config()
    with pytest.raises(LambdaServiceError) as too_large:
        runtime.invoke(fn, b'"' + b"x" * SYNC_REQUEST_LIMIT + b'"')
    assert too_large.value.status_code == 413
    assert too_large.value.error_type == "RequestEntityTooLargeException"
    assert too_large.value.message == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    with pytest.raises(LambdaServiceError) as not_json:
        runtime.invoke(fn, b"{not json")
    assert (not_json.value.status_code, not_json.value.error_type) == (
        400,
        "InvalidRequestContentException",
    )
    big = runtime.invoke(fn, json.dumps({"action": "big", "size": SYNC_RESPONSE_LIMIT}).encode())
    assert big.function_error == "Unhandled"
    assert json.loads(big.payload) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
    }
    empty = runtime.invoke(fn, b"")  # no payload: the handler gets {}
    assert json.loads(empty.payload)["count"] >= 1
    dry = runtime.invoke(fn, b"{}", invocation_type="DryRun")
    assert (dry.status_code, dry.payload) == (204, b"")


def test_concurrent_invocations_get_separate_workers(
    make_runtime: RuntimeFactory, tmp_path: Path
) -> None:
    runtime = make_runtime()
    fn = function_config()
    call(runtime, fn, {})  # one warm environment; the second call needs another
    results: list[InvokeResult] = []

    def invoke(n: int) -> None:
        event = {"action": "sleep", "seconds": 1.0, "pid_file": str(tmp_path / f"pid-{n}")}
        results.append(runtime.invoke(fn, json.dumps(event).encode()))

    threads = [threading.Thread(target=invoke, args=(n,)) for n in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    pids = {json.loads(r.payload)["pid"] for r in results}
    assert len(pids) == 2, "both invocations ran in one worker"
    assert elapsed < 1.9, f"the invocations did not overlap ({elapsed:.2f} s)"
    assert len(runtime.environments()) == 2


def test_concurrency_cap_throttles(make_runtime: RuntimeFactory, tmp_path: Path) -> None:
    runtime = make_runtime(max_environments_per_function=1, concurrency_wait_s=0.3)
    fn = function_config()
    event = {"action": "sleep", "seconds": 1.5, "pid_file": str(tmp_path / "pid")}
    busy = threading.Thread(target=runtime.invoke, args=(fn, json.dumps(event).encode()))
    busy.start()
    try:
        deadline = time.monotonic() + 5
        while not any(info.busy for info in runtime.environments()):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(LambdaServiceError) as throttled:
            runtime.invoke(fn, b"{}")
        assert throttled.value.status_code == 429
        assert throttled.value.error_type == "TooManyRequestsException"
        assert throttled.value.reason == "ConcurrentInvocationLimitExceeded"
    finally:
        busy.join()
    # Once free, the same environment serves the next caller.
    assert json.loads(runtime.invoke(fn, b"{}").payload)["count"] == 2


def test_idle_workers_are_reaped(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    _, body = call(runtime, function_config(), {})
    assert runtime.reap_idle(max_idle_s=60) == 0
    assert runtime.reap_idle(max_idle_s=0) == 1
    assert runtime.environments() == []
    assert not alive(body["pid"])


def test_shutdown_kills_busy_workers(make_runtime: RuntimeFactory, tmp_path: Path) -> None:
    runtime = make_runtime()
    fn = function_config(timeout=30)
    pid_file = tmp_path / "pid"
    errors: list[LambdaServiceError] = []

    def invoke() -> None:
        try:
            runtime.invoke(
                fn,
                json.dumps({"action": "sleep", "seconds": 30, "pid_file": str(pid_file)}).encode(),
            )
        except LambdaServiceError as error:
            errors.append(error)

    thread = threading.Thread(target=invoke)
    thread.start()
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pid = int(pid_file.read_text())
    runtime.shutdown()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert not alive(pid)
    assert [e.error_type for e in errors] == ["ServiceException"]


def test_a_real_package_runs_with_its_own_dependencies(make_runtime: RuntimeFactory) -> None:
    """ws_default as `make packages` builds it: Powertools comes from the zip, boto3 from the
    runtime, and its JSON log line lands in the function's stream with the request id."""
    from modules.packaging import PackageSpec, build_package

    root = Path(__file__).resolve().parents[3]
    built = build_package(
        PackageSpec(
            handlers_root=root / "handlers",
            function="ws_default",
            build_dir=root / "build" / "lambda",
        )
    )
    sink = MemoryLogSink()
    runtime = make_runtime(log_sink=sink)
    fn = function_config(name="ws-default", handler=built.handler, code=built.zip_path)
    event = {"requestContext": {"connectionId": "c-1"}, "body": '{"action": "ping"}'}
    result, body = call(runtime, fn, event)
    assert result.function_error is None, body
    assert body["statusCode"] == 200
    assert json.loads(body["body"])["type"] == "pong"
    logged = [json.loads(m) for m in sink.messages("/aws/lambda/ws-default") if m.startswith("{")]
    assert [(line["message"], line["function_request_id"]) for line in logged] == [
        ("message answered", result.request_id)
    ]


def _foreign_dist(name: str, version: str, package: str, source: str) -> dict[str, str]:
    """A distribution as pip installs it for Lambda's arm64 python3.13 (not loadable here)."""
    info = f"{name}-{version}.dist-info"
    return {
        f"{package}/__init__.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
        "Tag: cp313-cp313-manylinux_2_34_aarch64\n",
        f"{info}/RECORD": f"{package}/__init__.py,,\n{info}/METADATA,,\n",
    }


def test_foreign_compiled_distribution_loads_the_host_build_of_its_version(
    make_runtime: RuntimeFactory, runtime_site: RuntimeSite
) -> None:
    """The zip's cryptography is Lambda's arm64 build: the worker loads this machine's build
    of the same version (build/lambda-runtime/host-builds), ahead of the zip's files."""
    source = (
        "import importlib.metadata, cryptography\n"
        "from cryptography.hazmat.primitives.asymmetric import rsa\n"
        "def handler(e, c):\n"
        "    rsa.generate_private_key(public_exponent=65537, key_size=1024)\n"
        "    return [cryptography.__file__, importlib.metadata.version('cryptography')]\n"
    )
    files = {"app.py": source}
    for name, version in (("cryptography", "50.0.2"), ("cffi", "2.1.1")):
        files |= _foreign_dist(name, version, name, "raise ImportError('arm64 build')\n")
    runtime = make_runtime()
    result, body = call(runtime, function_config(files=files), {})
    assert result.function_error is None, body
    path, version = body
    assert Path(path).resolve().is_relative_to(runtime_site.host_builds.resolve())
    assert version == "50.0.2"


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("nativefake", "1.0", "nativefake 1.0 built for cp313-cp313-manylinux_2_34_aarch64"),
        ("cryptography", "49.0.0", "the host build in .* is cryptography 50.0.2"),
    ],
)
def test_foreign_compiled_distribution_without_a_host_build_of_its_version_fails(
    make_runtime: RuntimeFactory, name: str, version: str, expected: str
) -> None:
    files = {"app.py": "def handler(e, c):\n    return 1\n"}
    files |= _foreign_dist(name, version, name, "")
    with pytest.raises(LambdaServiceError, match=expected) as raised:
        make_runtime().invoke(function_config(files=files), b"{}")
    assert raised.value.error_type == "ServiceException"
    assert "make lambda-runtime" in raised.value.message
