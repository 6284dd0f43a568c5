"""The WebSocket connections table, as the dashboard stack declares it."""

from __future__ import annotations

import uuid
from typing import Any

import boto3


def create_connections_table(name: str | None = None) -> str:
    """A fresh table (partition key "connectionId", TTL on "ttl"); returns its name.

    boto3 finds the endpoint through AWS_ENDPOINT_URL (the moto server in tests).
    """
    table = name or f"connections-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    return table


def put_connections(table: str, connection_ids: list[str]) -> None:
    client = boto3.client("dynamodb")
    for connection_id in connection_ids:
        client.put_item(TableName=table, Item={"connectionId": {"S": connection_id}})


def items(table: str) -> dict[str, dict[str, Any]]:
    """connectionId -> item (plain values), read with a paginated scan."""
    found: dict[str, dict[str, Any]] = {}
    paginator = boto3.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=table):
        for item in page["Items"]:
            plain = {k: next(iter(v.values())) for k, v in item.items()}
            found[plain["connectionId"]] = plain
    return found
