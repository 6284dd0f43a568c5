"""Fixtures for the Lambda handler tests.

Each handler folder and handlers/common go on sys.path, as their modules sit at the root
of the Lambda zip; TELEMETRY_CONTRACT_PATH points at contracts/telemetry_event.json (in a
package the contract sits beside telemetry_contract.py instead).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLERS_DIR = REPO_ROOT / "handlers"
HANDLER_FOLDERS = sorted(p for p in HANDLERS_DIR.iterdir() if (p / "bundle.json").is_file())

for _path in [REPO_ROOT, HANDLERS_DIR / "common", *HANDLER_FOLDERS]:
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from tests.support.paths import CONTRACT_PATH  # noqa: E402
from tests.support.services import moto_server, tansu_broker  # noqa: E402

REGION = "eu-west-1"


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python 3.0 loads its protocol schemas with a deprecated importlib API.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*(read_text|open_text) is deprecated:DeprecationWarning"
    )


@pytest.fixture(scope="session", autouse=True)
def contract_path_env() -> Iterator[None]:
    """TELEMETRY_CONTRACT_PATH for the whole session (module fixtures load the contract too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TELEMETRY_CONTRACT_PATH", str(CONTRACT_PATH))
        yield


@pytest.fixture(autouse=True)
def handler_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Contract path, fake AWS credentials, no real AWS configuration; fresh client caches."""
    monkeypatch.setenv("TELEMETRY_CONTRACT_PATH", str(CONTRACT_PATH))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(REPO_ROOT / ".no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(REPO_ROOT / ".no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _reset_handler_state()
    yield
    _reset_handler_state()


def _reset_handler_state() -> None:
    """Forget cached clients/producers of handler modules imported so far."""
    import telemetry_contract

    telemetry_contract.load_contract.cache_clear()
    modules = sys.modules
    if "producer" in modules:
        modules["producer"].discard_producer()
    for module, cache in [
        ("generator", "_lambda_client"),
        ("consumer", "_boto3_client"),
        ("consumer", "dashboard_field_types"),
        ("connections", "dynamodb_client"),
        ("websocket_posts", "_cached_poster"),
    ]:
        if module in modules:
            getattr(modules[module], cache).cache_clear()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the session (tests use their own table / function names)."""
    with moto_server() as endpoint:
        yield endpoint


def _require_integration_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("integration") is None:
        pytest.fail(f"{request.node.nodeid} starts local services: mark it integration")


@pytest.fixture
def aws_endpoint(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """Route every boto3 client of the handlers to the moto server."""
    _require_integration_marker(request)
    endpoint: str = request.getfixturevalue("moto_endpoint")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return endpoint


@pytest.fixture
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh in-memory tansu broker per test: "127.0.0.1:PORT"."""
    _require_integration_marker(request)
    with tansu_broker() as address:
        yield address
