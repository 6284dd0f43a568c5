"""Athena queries over 100,000 events through the emulator, beside DuckDB reading them alone.

The data lake as the data-lake stack declares it (projection parameters, the contract's
columns, the saved queries of ``stacks.data_lake.named_queries``) in moto in-process, with
the emulator's Athena installed; 100,000 generator events as GZIP JSON lines over 24
hourly partitions. Each query runs three times through boto3 (StartQueryExecution to
SUCCEEDED); the median counts. The baseline is DuckDB's own ``read_json`` of the same
objects from local files answering the device-distribution question: the cost of reading
GZIP JSON at all, without the SerDe's rules, S3 or Athena's API.

Run alone with ``python -m bench athena`` (generating the events takes a while too).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .core import Figure, Target

EVENTS = 100_000
HOURS = 24
RUNS = 3
REGION = "us-west-2"
DATABASE = "acme_telemetry"
TABLE = "streaming_events"
BUCKET = "bench-data"


def _table_input(contract: Any) -> dict[str, Any]:
    from stacks.data_lake import PARTITION_KEYS, projection_parameters

    parameters = {k: v.replace("$${", "${") for k, v in projection_parameters(BUCKET, 2025).items()}
    return {
        "Name": TABLE,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in PARTITION_KEYS],
        "StorageDescriptor": {
            "Location": f"s3://{BUCKET}/telemetry/",
            "Columns": [{"Name": f.name, "Type": f.glue_type} for f in contract.fields],
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
        },
    }


def _timed(athena: Any, sql: str) -> tuple[float, dict[str, Any]]:
    from tests.support.athena_lake import wait

    started = time.perf_counter()
    query_id = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": DATABASE}, WorkGroup="bench"
    )["QueryExecutionId"]
    execution = wait(athena, query_id, timeout=600)
    elapsed = time.perf_counter() - started
    if execution["Status"]["State"] != "SUCCEEDED":
        raise RuntimeError(f"{sql!r}: {execution['Status']}")
    return elapsed, execution


def run() -> list[Figure]:
    import boto3
    import duckdb
    from moto import mock_aws

    from emulator import athena as named
    from emulator.dataplane import athena
    from platform_config.contract import load_contract
    from stacks.data_lake import named_queries
    from tests.support.athena_lake import events_at, firehose_key, gzip_lines

    named.install()
    athena.install()
    rng = random.Random(100_000)
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    objects: dict[str, bytes] = {}
    for hour in range(HOURS):
        moment = start - dt.timedelta(hours=hour)
        objects[firehose_key(moment, ".gz")] = gzip_lines(events_at(moment, EVENTS // HOURS, rng))
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as folder:
        for index, body in enumerate(objects.values()):
            (Path(folder) / f"{index:02d}.json.gz").write_bytes(body)
        baseline_runs = []
        for _ in range(RUNS):
            began = time.perf_counter()
            connection = duckdb.connect()
            connection.execute(
                f"SELECT device_type, count(*) FROM read_json('{folder}/*.json.gz', "
                "format='newline_delimited', columns={'device_type': 'VARCHAR', "
                "'event_type': 'VARCHAR'}) WHERE event_type = 'start' GROUP BY 1"
            ).fetchall()
            connection.close()
            baseline_runs.append(time.perf_counter() - began)
    baseline = statistics.median(baseline_runs)
    with mock_aws():
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        s3 = session.client("s3")
        for bucket in (BUCKET, "bench-results"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        for key, body in objects.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        glue = session.client("glue")
        glue.create_database(DatabaseInput={"Name": DATABASE})
        glue.create_table(DatabaseName=DATABASE, TableInput=_table_input(load_contract()))
        client = session.client("athena")
        client.create_work_group(
            Name="bench",
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://bench-results/q/"}},
        )
        queries = {name: sql for name, (_, sql) in named_queries(DATABASE, TABLE).items()}
        queries["last-7-days-buffering-by-isp"] = (
            "SELECT isp, state, sum(buffering_duration_seconds) / sum(watch_duration_seconds) "
            f"FROM {TABLE} WHERE date_parse(concat(year, month, day), '%Y%m%d') >= "
            "current_date - interval '7' day GROUP BY 1, 2"
        )
        for name, sql in queries.items():
            runs = []
            scanned = 0
            for _ in range(RUNS):
                elapsed, execution = _timed(client, sql)
                runs.append(elapsed)
                scanned = execution["Statistics"]["DataScannedInBytes"]
            figures.append(
                Figure(
                    name=f"athena {name} over {EVENTS:,} events",
                    measured=statistics.median(runs),
                    unit="s",
                    target=Target("max", 10.0),
                    baseline=baseline,
                    baseline_label="DuckDB read_json alone",
                    note=json.dumps({"scanned_bytes": scanned}),
                )
            )
    athena.shutdown()
    return figures
