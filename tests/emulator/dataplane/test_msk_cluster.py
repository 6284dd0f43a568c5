"""A local MSK cluster: tansu behind the TLS + SASL/OAUTHBEARER (MSK IAM) front door.

The clients are the deployed handlers (producer, topic_admin) and a consumer built from the
same msk_iam settings, each in its own process whose only TLS setting is SSL_CERT_FILE, as a
Lambda worker will have it. Protocol details are checked with a raw client.
"""

from __future__ import annotations

import datetime
import logging
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.protocol.metadata import ApiVersionsRequest, MetadataRequest
from kafka.protocol.sasl import SaslAuthenticateRequest, SaslHandshakeRequest

from emulator.dataplane.credentials import Credentials
from emulator.dataplane.msk import LocalMskCluster, MskClusterSettings
from emulator.dataplane.supervisor import Supervisor
from emulator.dataplane.tls import TlsFiles
from tests.support.msk_front_door import ACCOUNT, CLUSTER_ARN, TOPIC, RawClient, run_worker, sign

pytestmark = pytest.mark.integration

DEV = f"arn:aws:iam::{ACCOUNT}:user/dev"
OTHER = f"arn:aws:iam::{ACCOUNT}:user/other"
KEYS = {
    "AKIADEV": Credentials("AKIADEV", "dev-secret", None, DEV),
    "AKIAOTHER": Credentials("AKIAOTHER", "other-secret", None, OTHER),
}


def gs2(token: str) -> bytes:
    return f"n,,\x01auth=Bearer {token}\x01\x01".encode()


@pytest.fixture(scope="module")
def cluster(tls: TlsFiles, cluster_supervisor: Supervisor) -> Iterator[LocalMskCluster]:
    local = LocalMskCluster(
        MskClusterSettings(cluster_arn=CLUSTER_ARN, tls=tls),
        credentials=KEYS.get,
        supervisor=cluster_supervisor,
    )
    with local:
        yield local


def worker(cluster: LocalMskCluster, tls: TlsFiles, command: dict[str, object], **kw: object):
    options: dict[str, object] = {"access_key": "AKIADEV", "secret": "dev-secret", **kw}
    return run_worker(cluster.bootstrap_brokers, tls, command, **options)  # type: ignore[arg-type]


def pid_listed(pid: int) -> bool:
    out = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    state = out.stdout.strip()
    return bool(state) and not state.startswith("Z")


def accepts(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def test_deployed_handlers_produce_and_consume_through_the_front_door(
    cluster: LocalMskCluster, tls: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="emulator.msk")
    assert cluster.bootstrap_brokers != cluster.broker_address
    created = worker(cluster, tls, {"do": "create_topic", "topic": TOPIC, "partitions": 3})
    assert created.ok == {"topic": TOPIC, "created": True}
    again = worker(cluster, tls, {"do": "create_topic", "topic": TOPIC, "partitions": 3})
    assert again.ok == {"topic": TOPIC, "created": False}

    produced = worker(cluster, tls, {"do": "produce", "count": 200, "seed": 7}).ok
    assert produced["published"] == 200
    consumed = worker(cluster, tls, {"do": "consume", "topic": TOPIC, "expected": 200}).ok
    assert consumed["count"] == 200
    assert consumed["event_ids"] == produced["event_ids"]
    assert consumed["keys_match"]
    # Every connection (bootstrap and the broker address from metadata) was authenticated.
    assert f"authenticated as {DEV}" in caplog.text


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "the signature does not match"),
        # A worker clock 20 minutes behind signs tokens that expired 5 minutes ago.
        ({"MSK_WORKER_CLOCK_SKEW_SECONDS": "1200"}, "the token expired at"),
        ({"AWS_ACCESS_KEY_ID": "AKIANOBODY"}, "the access key id AKIANOBODY is not known"),
    ],
    ids=["wrong-signature", "expired", "unknown-key"],
)
def test_a_refused_token_is_a_sasl_authentication_failure_the_producer_reports(
    cluster: LocalMskCluster, tls: TlsFiles, env: dict[str, str], reason: str
) -> None:
    result = worker(cluster, tls, {"do": "produce", "count": 5, "timeout": 6}, extra_env=env)
    # kafka-python 3.0.12 retries a failed bootstrap until its deadline, so the handler raises
    # a timeout; the SASL failure and its reason are in the client's log (CloudWatch on AWS).
    assert result.output.get("error") == "KafkaTimeoutError", result.output
    assert "SaslAuthenticationFailedError" in result.stderr
    assert f"MSK IAM authentication failed: {reason}" in result.stderr


def test_a_client_without_sasl_is_refused(
    cluster: LocalMskCluster, tls: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    # TLS without SASL: ApiVersions is answered (clients need it to start SASL), anything
    # else closes the connection as a Kafka SASL listener does.
    with RawClient(cluster.bootstrap_brokers, tls) as client:
        versions = client.call(ApiVersionsRequest(version=3, client_software_name="raw"))
        assert versions is not None and versions.error_code == 0
        assert client.call(MetadataRequest(version=12, topics=None)) is None
    assert "Metadata request before SASL authentication" in caplog.text
    # The deployed client with KAFKA_SECURITY_PROTOCOL=SSL (no SASL) gets nowhere.
    ssl_only = worker(
        cluster,
        tls,
        {"do": "produce", "count": 1, "timeout": 5},
        extra_env={"KAFKA_SECURITY_PROTOCOL": "SSL"},
    )
    assert ssl_only.output.get("error") == "KafkaTimeoutError"
    # PLAINTEXT to a TLS port: the TLS handshake fails and the connection is closed.
    with RawClient(cluster.bootstrap_brokers, None) as plain:
        plain.send(ApiVersionsRequest(version=0))
        assert plain.closed_by_server()


def test_sasl_exchange_and_reauthentication(cluster: LocalMskCluster, tls: TlsFiles) -> None:
    with RawClient(cluster.bootstrap_brokers, tls) as client:
        versions = client.call(ApiVersionsRequest(version=3, client_software_name="raw"))
        keys = {k.api_key: (k.min_version, k.max_version) for k in versions.api_keys}
        assert keys[17] == (0, 1)  # SaslHandshake
        assert keys[36] == (0, 2)  # SaslAuthenticate
        assert 0 in keys and 1 in keys  # the broker's own APIs (Produce, Fetch) stay

        handshake = client.call(SaslHandshakeRequest(version=1, mechanism="OAUTHBEARER"))
        assert (handshake.error_code, handshake.mechanisms) == (0, ["OAUTHBEARER"])
        auth = client.call(
            SaslAuthenticateRequest(version=2, auth_bytes=gs2(sign("AKIADEV", "dev-secret")))
        )
        assert auth.error_code == 0
        assert 890_000 < auth.session_lifetime_ms <= 900_000  # the token's remaining life
        metadata = client.call(MetadataRequest(version=12, topics=None))
        assert [(b.host, b.port) for b in metadata.brokers] == [
            tuple([h, int(p)]) for h, p in [cluster.bootstrap_brokers.rsplit(":", 1)]
        ]
        # KIP-368 re-authentication on the same connection, as kafka-python does it.
        assert client.call(SaslHandshakeRequest(version=1, mechanism="OAUTHBEARER")).error_code == 0
        again = client.call(
            SaslAuthenticateRequest(version=1, auth_bytes=gs2(sign("AKIADEV", "dev-secret")))
        )
        assert again.error_code == 0
        # Another principal may not take the connection over.
        assert client.call(SaslHandshakeRequest(version=1, mechanism="OAUTHBEARER")).error_code == 0
        other = client.call(
            SaslAuthenticateRequest(version=2, auth_bytes=gs2(sign("AKIAOTHER", "other-secret")))
        )
        assert other.error_code == 58
        assert "principals cannot change" in other.error_message
        assert client.closed_by_server()


def test_sasl_handshake_v0_exchanges_bare_tokens(cluster: LocalMskCluster, tls: TlsFiles) -> None:
    # SaslHandshake v0 (pre-KIP-152 clients): the token follows as a bare frame, and the
    # success answer is an empty bare frame.
    with RawClient(cluster.bootstrap_brokers, tls) as client:
        assert client.call(SaslHandshakeRequest(version=0, mechanism="OAUTHBEARER")).error_code == 0
        client.send_bytes(gs2(sign("AKIADEV", "dev-secret")))
        assert client.receive_frame() == b""
        assert client.call(MetadataRequest(version=12, topics=None)) is not None
    with RawClient(cluster.bootstrap_brokers, tls) as client:
        assert client.call(SaslHandshakeRequest(version=0, mechanism="OAUTHBEARER")).error_code == 0
        client.send_bytes(gs2(sign("AKIADEV", "wrong-secret")))
        assert client.closed_by_server()


def test_the_session_ends_with_the_token(cluster: LocalMskCluster, tls: TlsFiles) -> None:
    # A token signed 899 s ago is valid for one more second: so is the session. A client
    # that does not re-authenticate in time is disconnected at its next request.
    signed = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=899)
    with RawClient(cluster.bootstrap_brokers, tls) as client:
        client.call(SaslHandshakeRequest(version=1, mechanism="OAUTHBEARER"))
        token = sign("AKIADEV", "dev-secret", at=signed)
        auth = client.call(SaslAuthenticateRequest(version=2, auth_bytes=gs2(token)))
        assert auth.error_code == 0 and 0 < auth.session_lifetime_ms <= 1_000
        time.sleep(auth.session_lifetime_ms / 1000 + 0.2)
        assert client.call(MetadataRequest(version=12, topics=None)) is None


def test_only_oauthbearer_is_offered(cluster: LocalMskCluster, tls: TlsFiles) -> None:
    with RawClient(cluster.bootstrap_brokers, tls) as client:
        handshake = client.call(SaslHandshakeRequest(version=1, mechanism="PLAIN"))
        assert (handshake.error_code, handshake.mechanisms) == (33, ["OAUTHBEARER"])
        assert client.closed_by_server()
    with RawClient(cluster.bootstrap_brokers, tls) as client:
        client.call(SaslHandshakeRequest(version=1, mechanism="OAUTHBEARER"))
        garbage = client.call(
            SaslAuthenticateRequest(version=2, auth_bytes=b"n,,\x01user=x\x01\x01")
        )
        assert garbage.error_code == 58 and "no auth=Bearer token" in garbage.error_message
        assert client.closed_by_server()


def test_many_clients_at_once(cluster: LocalMskCluster, tls: TlsFiles) -> None:
    errors: list[BaseException] = []

    def session() -> None:
        try:
            with RawClient(cluster.bootstrap_brokers, tls) as client:
                client.call(SaslHandshakeRequest(version=1, mechanism="OAUTHBEARER"))
                token = sign("AKIADEV", "dev-secret")
                assert (
                    client.call(
                        SaslAuthenticateRequest(version=2, auth_bytes=gs2(token))
                    ).error_code
                    == 0
                )
                # Pipelined: several requests in flight, answers must come back in order.
                ids = [client.send(MetadataRequest(version=12, topics=None)) for _ in range(5)]
                for expected in ids:
                    payload = client.receive_frame()
                    assert payload is not None
                    assert int.from_bytes(payload[:4], "big") == expected
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=session) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors[:3]


def test_stopping_the_cluster_stops_tansu(
    tls: TlsFiles, cluster_supervisor: Supervisor, tmp_path: Path
) -> None:
    local = LocalMskCluster(
        MskClusterSettings(cluster_arn=CLUSTER_ARN, tls=tls, log_file=tmp_path / "tansu.log"),
        credentials=KEYS.get,
        supervisor=cluster_supervisor,
    )
    local.start()
    process = local.process
    assert process is not None and pid_listed(process.pid)
    front_door, broker = local.bootstrap_brokers, local.broker_address
    assert accepts(front_door) and accepts(broker)
    # A client in the middle of a session (with its broker connection open) does not hold
    # the stop up: tansu's SIGTERM shutdown would wait for it.
    client = RawClient(front_door, tls)
    assert client.call(ApiVersionsRequest(version=3, client_software_name="raw")) is not None
    started = time.monotonic()
    local.stop()
    assert time.monotonic() - started < 2.5
    assert client.closed_by_server()
    client.close()
    assert not pid_listed(process.pid), "tansu still running after stop()"
    assert process.returncode is not None
    assert not accepts(front_door) and not accepts(broker)
    assert not local.running
    local.stop()  # idempotent
    assert all(p.pid != process.pid for _, p in cluster_supervisor.children())


def test_settings_are_checked(tls: TlsFiles) -> None:
    with pytest.raises(ValueError, match="not an MSK cluster ARN"):
        MskClusterSettings(cluster_arn="arn:aws:kafka:eu-west-1:1:cluster/x", tls=tls)
    with pytest.raises(ValueError, match="port"):
        MskClusterSettings(cluster_arn=CLUSTER_ARN, tls=tls, port=70000)
    with pytest.raises(ValueError, match="different ports"):
        MskClusterSettings(cluster_arn=CLUSTER_ARN, tls=tls, port=9098, broker_port=9098)
