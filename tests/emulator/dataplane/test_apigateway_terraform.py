"""Terraform deploys the dashboard's two APIs onto moto with the gateway installed.

tests/emulator/tf/apigateway_stack declares them as the dashboard stack does. After apply,
the URLs built from ``api_endpoint`` open here (a WebSocket ping, a @connections POST
through boto3, the page over HTTP), the second plan is empty (the local endpoint is stable),
and destroy stops the servers. The AWS provider comes from ``TF_PLUGIN_DIR`` when set.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.sync.client import connect

from emulator.dataplane.apigateway import ApiGateway
from tests.support.apigateway import REGION
from tests.support.terraform import TERRAFORM, TerraformDir

TF_SOURCE = Path(__file__).resolve().parents[1] / "tf" / "apigateway_stack"
HANDLERS = """
import json

def connect(event, context):
    return {"statusCode": 200}

def disconnect(event, context):
    return {"statusCode": 200}

def default(event, context):
    body = {"type": "pong", "connectionId": event["requestContext"]["connectionId"]}
    return {"statusCode": 200, "body": json.dumps(body)}

def page(event, context):
    body = "page at " + event["rawPath"]
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": body}
"""

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,  # the provider's start-up and Lambda waiters: minutes on a busy machine
    pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed (not on PATH)"),
]


def test_apply_open_the_urls_plan_clean_destroy(
    tmp_path: Path, moto_endpoint: str, gateway: ApiGateway
) -> None:
    tf = TerraformDir(tmp_path, TF_SOURCE, handler_source=HANDLERS, zip_name="handler.zip")
    terraform = tf.run
    variables = [f"-var=endpoint={moto_endpoint}", f"-var=lambda_zip={tf.lambda_zip}"]
    plugin_dir = os.environ.get("TF_PLUGIN_DIR") or (
        "/opt/tf-plugins" if Path("/opt/tf-plugins").is_dir() else ""
    )
    terraform("init", *([f"-plugin-dir={plugin_dir}"] if plugin_dir else []))
    terraform("apply", "-auto-approve", *variables)
    outputs: dict[str, Any] = {
        k: v["value"] for k, v in json.loads(terraform("output", "-json").stdout).items()
    }
    websocket_url = outputs["websocket_url"]
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/live", websocket_url)
    assert outputs["websocket_callback_url"] == websocket_url.replace("ws://", "http://")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", outputs["dashboard_url"])
    api_id = outputs["websocket_api_id"]
    assert outputs["stage_invoke_url"] == f"wss://{api_id}.execute-api.{REGION}.amazonaws.com/live"

    with connect(websocket_url, open_timeout=30) as ws:
        ws.send(json.dumps({"action": "ping"}))
        pong = json.loads(ws.recv(timeout=30))
        assert pong["type"] == "pong"
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        callback = session.client(
            "apigatewaymanagementapi", endpoint_url=outputs["websocket_callback_url"]
        )
        callback.post_to_connection(ConnectionId=pong["connectionId"], Data=b"from the backend")
        assert ws.recv(timeout=10) == "from the backend"
    with urllib.request.urlopen(outputs["dashboard_url"], timeout=30) as response:
        assert response.read() == b"page at /"

    plan = terraform("plan", "-detailed-exitcode", *variables, ok=(0, 2))
    assert plan.returncode == 0 and "No changes." in plan.stdout, plan.stdout[-6000:]
    served_before = len(gateway.served())
    terraform("destroy", "-auto-approve", *variables)
    assert len(gateway.served()) == served_before - 2
    server_errors = re.findall(r"http\.status_code=5\d\d", tf.log.read_text(errors="replace"))
    assert not server_errors, "the provider got 5xx answers from moto (see its debug log)"
    print(f"\nterraform timings (s): {tf.timings}")
