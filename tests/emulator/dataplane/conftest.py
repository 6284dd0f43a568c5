"""Fixtures for the data plane tests: real zips, real workers, an in-process moto server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.dataplane.apigateway import ApiGateway
from emulator.dataplane.credentials import Credentials
from emulator.dataplane.lambda_logs import LogSink, MemoryLogSink
from emulator.dataplane.lambda_runtime import LambdaRuntime
from emulator.dataplane.lambda_site import RuntimeSite, build_site
from emulator.dataplane.supervisor import Supervisor
from emulator.dataplane.tls import TlsFiles, ensure_local_ca
from tests.support import apigateway
from tests.support.lambda_workers import REGION, RuntimeFactory, alive, fake_credentials


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
    from emulator.control import threaded_moto_server

    with threaded_moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def aws_client(moto_endpoint: str) -> Callable[[str], Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return lambda service: session.client(service, endpoint_url=moto_endpoint)


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> Callable[[str], Any]:
    """boto3 clients of the in-process moto, in the API Gateway tests' region."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=apigateway.REGION
    )
    return lambda service: session.client(service, endpoint_url=moto_endpoint)


@pytest.fixture(scope="module")
def runtime(
    moto_endpoint: str, runtime_site: RuntimeSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LambdaRuntime]:
    """A Lambda runtime whose workers call the in-process moto (the module's functions)."""
    work_dir = tmp_path_factory.mktemp("runtime")
    with apigateway.lambda_runtime(moto_endpoint, runtime_site, work_dir) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def gateway(runtime: LambdaRuntime) -> Iterator[ApiGateway]:
    """The gateway serving the module's APIs from moto, its functions in ``runtime``."""
    with apigateway.moto_gateway(runtime) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """The local CA and the front door's certificate (the MSK cluster tests)."""
    return ensure_local_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def cluster_supervisor() -> Iterator[Supervisor]:
    """The module's supervisor of MSK clusters' brokers (stopped when the module is done)."""
    owner = Supervisor()
    yield owner
    owner.stop_all(grace=1)


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python 3.0 loads its protocol schemas with a deprecated importlib API.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*(read_text|open_text) is deprecated:DeprecationWarning"
    )
