"""One local deployment of the whole platform, shared by every test in this folder.

``make deploy-local`` runs once per test session, on a free port and in a temporary folder,
the first time a test asks for ``local_platform``; ``make destroy-local`` runs at the end of
the session, and its teardown checks that nothing is left (no emulator, the port free). A
deploy takes minutes, so tests here read and use the deployed platform rather than
deploying their own.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator

import pytest

from tests.conftest import STACK_NAMES
from tests.support.local_platform import LocalPlatform, free_port, make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Under pytest-xdist (make test), every test of the shared deployment runs on one worker;
    # the fault suite, on a deployment of its own, on another beside it.
    for item in items:
        if "tests/e2e/" in str(item.path):
            group = "faults" if item.path.name == "test_e2e_faults.py" else "e2e"
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    workdir = tmp_path_factory.mktemp("local-platform")
    port = free_port()
    variables = (f"LOCAL_PORT={port}", f"LOCAL_DIR={workdir}")
    try:
        deployed = make("deploy-local", *variables)
        assert deployed.returncode == 0, deployed.stdout[-5000:] + deployed.stderr[-5000:]
        outputs = json.loads((workdir / "outputs.json").read_text())
        yield LocalPlatform(port, workdir, deployed.stdout, outputs)
    finally:
        destroyed = make("destroy-local", *variables)
    assert destroyed.returncode == 0, destroyed.stdout[-5000:] + destroyed.stderr[-5000:]
    for stack in STACK_NAMES:
        assert f"== destroyed {stack}" in destroyed.stdout
    assert not (workdir / "emulator.pid").exists()
    # Nothing listens any more, and a new server can bind the port as servers do
    # (SO_REUSEADDR: the closed connections' TIME_WAIT entries may outlive the process).
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
