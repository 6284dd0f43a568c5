"""handlers/common: the contract loader and the MSK IAM Kafka settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msk_iam
import pytest
import telemetry_contract
from kafka.net.sasl.oauth import AbstractTokenProvider
from telemetry_contract import ContractViolation, load_contract

from tests.support.lambda_context import FakeLambdaContext
from tests.support.paths import CONTRACT_PATH


def contract_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
    return document


# ------------------------------------------------------------------ contract


def test_contract_matches_the_json_file():
    document = contract_document()
    contract = load_contract()
    assert contract.topic == document["topic"]
    assert contract.field_names == tuple(f["name"] for f in document["fields"])
    assert contract.field_types == {f["name"]: f["type"] for f in document["fields"]}
    assert set(contract.field_types.values()) <= {"string", "int", "double"}


def test_contract_beside_the_module_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The flat Lambda zip: telemetry_contract.py and telemetry_event.json side by side.
    other = contract_document()
    other["topic"] = "beside-topic"
    (tmp_path / "telemetry_event.json").write_text(json.dumps(other))
    monkeypatch.setattr(telemetry_contract, "__file__", str(tmp_path / "telemetry_contract.py"))
    load_contract.cache_clear()
    assert load_contract().topic == "beside-topic"


def test_missing_contract_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TELEMETRY_CONTRACT_PATH")
    with pytest.raises(telemetry_contract.ContractNotFoundError, match="TELEMETRY_CONTRACT_PATH"):
        load_contract()
    monkeypatch.setenv("TELEMETRY_CONTRACT_PATH", "/nonexistent/telemetry_event.json")
    load_contract.cache_clear()
    with pytest.raises(telemetry_contract.ContractNotFoundError, match="does not point at a file"):
        load_contract()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("topic"), "'topic'"),
        (lambda d: d["fields"].append(dict(d["fields"][0])), "declared twice"),
        (lambda d: d["fields"][0].update(type="bigint"), "has type 'bigint'"),
        (lambda d: d.update(fields=[]), "'fields'"),
    ],
)
def test_broken_contract_is_rejected(mutate, message):
    document = contract_document()
    mutate(document)
    with pytest.raises(telemetry_contract.ContractFormatError, match=message):
        telemetry_contract.parse_contract(document)


def valid_event() -> dict[str, Any]:
    sample = {"string": "x", "int": 1, "double": 1.5}
    return {f.name: sample[f.glue_type] for f in load_contract().fields}


def test_event_errors_name_every_problem():
    contract = load_contract()
    assert contract.event_errors(valid_event()) == []
    int_field = contract.fields_of_type("int")[0]
    double_field = contract.fields_of_type("double")[0]
    string_field = contract.fields_of_type("string")[0]
    event = valid_event()
    del event[string_field]
    event[int_field] = "7"
    event[double_field] = True
    event["surprise"] = 1
    errors = contract.event_errors(event, label="event 4")
    assert len(errors) == 4
    assert all(e.startswith("event 4: ") for e in errors)
    joined = "\n".join(errors)
    assert f"missing field {string_field!r}" in joined
    assert f"field {int_field!r} must be int" in joined
    assert f"field {double_field!r} must be double" in joined
    assert "unexpected field 'surprise'" in joined
    with pytest.raises(ContractViolation, match="4 contract violation"):
        contract.validate_event(event)


@pytest.mark.parametrize(
    ("glue_type", "value", "ok"),
    [
        ("int", 2**31 - 1, True),
        ("int", 2**31, False),
        ("int", 1.0, False),
        ("int", False, False),
        ("double", 3, True),
        ("double", 3.25, True),
        ("double", float("nan"), False),
        ("double", "3.2", False),
        ("string", "", True),
        ("string", None, False),
    ],
)
def test_value_types(glue_type, value, ok):
    assert (telemetry_contract.value_type_error(glue_type, value) is None) is ok


class Text(str):
    """A str subclass: valid for the contract, though not what json.loads makes."""


@pytest.mark.parametrize(
    ("glue_type", "value", "ok"),
    [
        ("int", 2**31 - 1, True),
        ("int", -(2**31), True),
        ("int", 2**31, False),
        ("int", -(2**31) - 1, False),
        ("int", 1.0, False),
        ("int", True, False),
        ("int", None, False),
        ("double", 3, True),
        ("double", 2**40, True),
        ("double", -0.5, True),
        ("double", float("nan"), False),
        ("double", float("inf"), False),
        ("double", float("-inf"), False),
        ("double", False, False),
        ("double", "3.2", False),
        ("string", "", True),
        ("string", Text("x"), True),
        ("string", 5, False),
        ("string", None, False),
    ],
)
def test_the_quick_check_agrees_with_the_full_one(glue_type, value, ok):
    """conforms() is the producer's per-event fast path: it may only say yes when it's valid."""
    contract = load_contract()
    event = valid_event()
    event[contract.fields_of_type(glue_type)[-1]] = value
    errors = contract.event_errors(event)
    assert (errors == []) is ok, errors
    if not ok:
        assert contract.conforms(event) is False
    if ok and type(value) in (str, int, float):
        assert contract.conforms(event) is True


def test_the_quick_check_refuses_missing_extra_and_unusual_shapes():
    from collections import OrderedDict

    contract = load_contract()
    assert contract.conforms(valid_event())
    missing = valid_event()
    missing.pop(contract.field_names[0])
    extra = valid_event()
    extra["surprise"] = 1
    renamed = valid_event()
    renamed["surprise"] = renamed.pop(contract.field_names[-1])
    shapes: list[object] = [missing, extra, renamed, [], None, "event"]
    for event in shapes:
        assert not contract.conforms(event)
        assert contract.event_errors(event)
    ordered = OrderedDict(valid_event())  # a Mapping, not a plain dict: the full check decides
    assert not contract.conforms(ordered) and contract.event_errors(ordered) == []


# ------------------------------------------------------------------ msk_iam


def test_defaults_are_msk_iam():
    settings = msk_iam.kafka_client_settings(
        {"BOOTSTRAP_SERVERS": "b-1.x:9098, b-2.x:9098", "AWS_REGION": "eu-west-1"}
    )
    assert settings["bootstrap_servers"] == ["b-1.x:9098", "b-2.x:9098"]
    assert settings["security_protocol"] == "SASL_SSL"
    assert settings["sasl_mechanism"] == "OAUTHBEARER"
    provider = settings["sasl_oauth_token_provider"]
    # kafka-python rejects anything that is not an AbstractTokenProvider instance.
    assert isinstance(provider, AbstractTokenProvider)
    assert provider.region == "eu-west-1"


def test_real_signer_makes_a_token_offline():
    # generate_auth_token only presigns a URL: any credentials will do, no network.
    provider = msk_iam.MSKIAMTokenProvider("eu-west-1")
    token = provider.token()
    assert isinstance(token, str) and len(token) > 100
    assert provider.token() == token  # cached


def test_plaintext_has_no_sasl_settings():
    settings = msk_iam.kafka_client_settings(
        {"BOOTSTRAP_SERVERS": "127.0.0.1:9092", "KAFKA_SECURITY_PROTOCOL": "plaintext"}
    )
    assert settings == {"bootstrap_servers": ["127.0.0.1:9092"], "security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "BOOTSTRAP_SERVERS"),
        ({"BOOTSTRAP_SERVERS": " , "}, "BOOTSTRAP_SERVERS"),
        ({"BOOTSTRAP_SERVERS": "broker-without-port"}, "not host:port"),
        ({"BOOTSTRAP_SERVERS": "b:9098", "KAFKA_SECURITY_PROTOCOL": "TLS"}, "expected one of"),
        ({"BOOTSTRAP_SERVERS": "b:9098", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"}, "OAUTHBEARER"),
        ({"BOOTSTRAP_SERVERS": "b:9098"}, "AWS_REGION"),
    ],
)
def test_bad_settings_are_clear_errors(env, message):
    with pytest.raises(msk_iam.SettingsError, match=message):
        msk_iam.kafka_client_settings(env)


def test_token_is_cached_until_shortly_before_expiry():
    calls = []
    now = [1_000.0]

    def generate(region: str) -> tuple[str, int]:
        calls.append(region)
        return f"token-{len(calls)}", int((now[0] + 900) * 1000)  # valid 15 minutes

    provider = msk_iam.MSKIAMTokenProvider("us-east-1", generate=generate, clock=lambda: now[0])
    assert provider.token() == "token-1"
    now[0] += 839  # 61 s before expiry: still cached
    assert provider.token() == "token-1"
    now[0] += 2  # 59 s before expiry: refreshed
    assert provider.token() == "token-2"
    assert calls == ["us-east-1", "us-east-1"]


def test_a_handler_without_its_metrics_namespace_fails_before_doing_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import generator

    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    monkeypatch.setenv("PRODUCER_FUNCTION_NAME", "never-invoked")

    class NoLambda:
        def invoke(self, **_: object) -> None:
            raise AssertionError("the generator must not invoke anything")

    import functools

    # Cached like the real one (the fixtures clear the handlers' client caches).
    monkeypatch.setattr(generator, "_lambda_client", functools.cache(NoLambda))
    with pytest.raises(Exception, match="POWERTOOLS_METRICS_NAMESPACE is required"):
        generator.lambda_handler({}, FakeLambdaContext())
