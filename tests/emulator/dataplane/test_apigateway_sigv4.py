"""SigV4 verification of @connections calls, against requests botocore itself signs."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from emulator.dataplane.apigateway_sigv4 import SignatureRejected, verify_request
from emulator.dataplane.credentials import Credentials

REGION = "us-west-2"
USER = "arn:aws:iam::123456789012:user/ops"
ROLE = "arn:aws:sts::123456789012:assumed-role/consumer/emulator"
KEYS = {
    "AKIDUSER": Credentials("AKIDUSER", "user-secret", None, USER),
    "ASIAROLE": Credentials("ASIAROLE", "role-secret", "role-token", ROLE),
}


class _Stop(Exception):
    pass


def signed(
    key: str,
    secret: str,
    token: str | None = None,
    *,
    operation: str = "post_to_connection",
    region: str = REGION,
    **params: Any,
) -> dict[str, Any]:
    """What boto3's apigatewaymanagementapi sends, captured before it leaves."""
    session = boto3.session.Session(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=region,
    )
    client = session.client("apigatewaymanagementapi", endpoint_url="http://127.0.0.1:4510/live")
    captured: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> None:
        captured["request"] = request
        raise _Stop

    client.meta.events.register("before-send", capture)
    params.setdefault("ConnectionId", "cx6X9eL_IAMCIJQ=")
    if operation == "post_to_connection":
        params.setdefault("Data", b'{"type":"telemetry"}')
    with pytest.raises(_Stop):
        getattr(client, operation)(**params)
    request = captured["request"]
    headers = CIMultiDict(
        (k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
    )
    headers["Host"] = urlsplit(request.url).netloc
    return {
        "method": request.method,
        "url": request.url,
        "headers": CIMultiDictProxy(headers),
        "body": request.body or b"",
    }


def verify(request: dict[str, Any], **overrides: Any) -> Any:
    arguments = {**request, "region": REGION, "lookup": KEYS.get, **overrides}
    return verify_request(**arguments)


def test_a_users_and_a_roles_signatures_are_accepted() -> None:
    assert verify(signed("AKIDUSER", "user-secret")).principal_arn == USER
    role = signed("ASIAROLE", "role-secret", "role-token")
    assert verify(role).principal_arn == ROLE
    for operation in ("get_connection", "delete_connection"):
        assert verify(signed("AKIDUSER", "user-secret", operation=operation)).access_key_id


def test_the_path_is_checked_as_sent_percent_encoding_included() -> None:
    request = signed("AKIDUSER", "user-secret")
    assert "%3D" in request["url"]  # the connection id's "=", encoded by botocore
    other = request["url"].replace("cx6X9eL_IAMCIJQ", "cx6X9eL_IAMCIJR")
    with pytest.raises(SignatureRejected) as refused:
        verify(request, url=other)
    assert refused.value.error_type == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("request_args", "overrides", "error_type"),
    [
        (("AKIDUSER", "wrong-secret"), {}, "InvalidSignatureException"),
        (("AKIDNOBODY", "x"), {}, "UnrecognizedClientException"),
        (("ASIAROLE", "role-secret"), {}, "UnrecognizedClientException"),  # token missing
        (("ASIAROLE", "role-secret", "old-token"), {}, "UnrecognizedClientException"),
        (("AKIDUSER", "user-secret"), {"region": "eu-west-1"}, "InvalidSignatureException"),
    ],
)
def test_refusals(
    request_args: tuple[str, ...], overrides: dict[str, Any], error_type: str
) -> None:
    with pytest.raises(SignatureRejected) as refused:
        verify(signed(*request_args), **overrides)
    assert refused.value.error_type == error_type


def test_a_changed_body_is_refused() -> None:
    request = signed("AKIDUSER", "user-secret")
    with pytest.raises(SignatureRejected) as refused:
        verify(request, body=request["body"] + b" ")
    assert refused.value.error_type == "InvalidSignatureException"


def test_an_unsigned_request_is_missing_its_token() -> None:
    request = signed("AKIDUSER", "user-secret")
    headers = CIMultiDict(request["headers"])
    del headers["Authorization"]
    with pytest.raises(SignatureRejected) as refused:
        verify(request, headers=CIMultiDictProxy(headers))
    assert refused.value.error_type == "MissingAuthenticationTokenException"
    assert refused.value.message == "Missing Authentication Token"


def test_the_clock_allows_five_minutes_either_way() -> None:
    request = signed("AKIDUSER", "user-secret")
    signed_at = datetime.datetime.strptime(
        request["headers"]["X-Amz-Date"], "%Y%m%dT%H%M%SZ"
    ).replace(tzinfo=datetime.UTC)
    assert verify(request, now=signed_at + datetime.timedelta(minutes=4, seconds=50))
    for skew in (datetime.timedelta(minutes=5, seconds=10), -datetime.timedelta(minutes=6)):
        with pytest.raises(SignatureRejected) as refused:
            verify(request, now=signed_at + skew)
        assert refused.value.error_type == "InvalidSignatureException"
        assert "Signature" in refused.value.message


def test_query_strings_and_extra_signed_headers_canonicalize_as_botocore_does() -> None:
    """Beyond what apigatewaymanagementapi sends: a query string, a repeated and a spaced
    header, all signed by botocore's own signer."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    url = "http://127.0.0.1:4510/live/@connections/cx6X9eL_IAMCIJQ%3D?b=2&a=%2F1&a=0"
    request = AWSRequest(
        method="POST", url=url, data=b"payload", headers={"X-Custom": "  spaced   value "}
    )
    SigV4Auth(BotoCredentials("AKIDUSER", "user-secret"), "execute-api", REGION).add_auth(request)
    headers = CIMultiDict((k, v) for k, v in request.headers.items())
    headers["Host"] = "127.0.0.1:4510"
    assert "x-custom" in headers["Authorization"]
    arguments = {
        "method": "POST",
        "url": url,
        "headers": CIMultiDictProxy(headers),
        "body": b"payload",
    }
    assert verify(arguments).principal_arn == USER
    with pytest.raises(SignatureRejected):
        verify({**arguments, "url": url.replace("b=2", "b=3")})
