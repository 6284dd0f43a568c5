"""Topic admin: input validation, idempotent creation against a real (tansu) broker."""

from __future__ import annotations

import time
import uuid

import pytest
import topic_admin
from kafka.errors import KafkaError

from tests.support.lambda_context import FakeLambdaContext
from tests.support.services import free_port

VALID = {"topic": "acme-telemetry", "partitions": 3, "replication_factor": 2}


def test_valid_input():
    request = topic_admin.parse_request({**VALID, "configs": {"retention.ms": "604800000"}})
    assert request == topic_admin.TopicRequest(
        "acme-telemetry", 3, 2, {"retention.ms": "604800000"}, "create"
    )
    assert topic_admin.parse_request(VALID).configs == {}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([VALID], "input must be a JSON object"),
        ({**VALID, "partition": 3}, r"unknown input key\(s\) \['partition'\]"),
        ({**VALID, "topic": ""}, "'topic' must be 1-249 characters"),
        ({**VALID, "topic": "bad topic"}, "'topic' must be"),
        ({**VALID, "topic": "x" * 250}, "'topic' must be"),
        ({**VALID, "partitions": 0}, "'partitions' must be a positive integer, got 0"),
        ({**VALID, "partitions": "3"}, "'partitions' must be a positive integer, got '3'"),
        ({**VALID, "partitions": True}, "'partitions' must be a positive integer"),
        ({"topic": "t", "partitions": 1}, "'replication_factor' must be a positive integer"),
        ({**VALID, "configs": {"retention.ms": 604800000}}, "'configs' must be an object of"),
        ({**VALID, "configs": ["retention.ms"]}, "'configs' must be an object of"),
        ({**VALID, "tf": {"action": "refresh"}}, "'tf.action' must be one of"),
    ],
)
def test_invalid_input_is_a_clear_error(event, message):
    with pytest.raises(ValueError, match=message):
        topic_admin.parse_request(event)


def test_terraform_delete_leaves_the_topic_alone(monkeypatch: pytest.MonkeyPatch):
    # aws_lambda_invocation with lifecycle_scope = "CRUD" adds a "tf" key. No broker needed.
    monkeypatch.delenv("BOOTSTRAP_SERVERS", raising=False)
    event = {**VALID, "tf": {"action": "delete", "prev_input": VALID}}
    assert topic_admin.lambda_handler(event, FakeLambdaContext()) == {
        "topic": "acme-telemetry",
        "created": False,
    }


class RefusingAdmin:
    """A broker answer tansu cannot be made to give (it accepts any topic)."""

    def create_topics(self, new_topics, **kwargs):
        (name,) = new_topics
        return {
            "topics": [
                {
                    "name": name,
                    "error_code": 38,  # INVALID_REPLICATION_FACTOR
                    "error_message": "Replication factor: 3 larger than available brokers: 1.",
                }
            ]
        }


def test_other_broker_errors_raise():
    request = topic_admin.parse_request({**VALID, "replication_factor": 3})
    with pytest.raises(Exception, match="Replication factor: 3 larger than available brokers"):
        topic_admin.create_topic(RefusingAdmin(), request)


@pytest.mark.integration
def test_creates_once_then_reports_existing(kafka_broker: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BOOTSTRAP_SERVERS", kafka_broker)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    topic = f"admin-test-{uuid.uuid4().hex[:8]}"
    event = {
        "topic": topic,
        "partitions": 2,
        "replication_factor": 1,
        "configs": {"retention.ms": "86400000"},
    }
    assert topic_admin.lambda_handler(event, FakeLambdaContext()) == {
        "topic": topic,
        "created": True,
    }
    assert topic_admin.lambda_handler(event, FakeLambdaContext()) == {
        "topic": topic,
        "created": False,
    }
    update = {**event, "tf": {"action": "update", "prev_input": event}}
    assert topic_admin.lambda_handler(update, FakeLambdaContext())["created"] is False


@pytest.mark.integration
def test_unreachable_broker_fails_within_the_deadline(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    started = time.monotonic()
    with pytest.raises(KafkaError):
        topic_admin.lambda_handler(VALID, FakeLambdaContext(timeout_seconds=5))
    assert time.monotonic() - started < 5
