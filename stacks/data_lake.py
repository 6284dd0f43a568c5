"""Data lake stack: the telemetry bucket, the Glue catalog and Athena.

The Glue table uses partition projection whose template matches the Firehose prefix
(``telemetry/year=YYYY/month=MM/day=DD/hour=HH/``), so Athena sees each new hour of data
without crawlers or ``MSCK REPAIR TABLE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.athena_named_query import AthenaNamedQuery
from cdktf_cdktf_provider_aws.athena_workgroup import AthenaWorkgroup
from cdktf_cdktf_provider_aws.glue_catalog_database import GlueCatalogDatabase
from cdktf_cdktf_provider_aws.glue_catalog_table import GlueCatalogTable
from constructs import Construct

from modules.secure_bucket import Lifecycle, SecureBucket, SecureBucketProps
from platform_config.contract import TelemetryContract
from platform_config.model import DataLakeSettings

from .base import PlatformStack, StackContext
from .outputs import DataLakeOutputs

DATA_PREFIX = "telemetry/"
PARTITION_KEYS = ("year", "month", "day", "hour")


# The last seven days, through the partition projection (the partition keys are strings).
LAST_7_DAYS = "date_parse(concat(year, month, day), '%Y%m%d') >= current_date - interval '7' day"


def named_queries(database: str, table: str) -> dict[str, tuple[str, str]]:
    """The saved queries: name -> (description, SQL). Each reads recent partitions only,
    relative to the day it runs, never a literal year or month."""
    source = f"{database}.{table}"
    return {
        "events-by-type": (
            "Events by type over the last 7 days",
            f"SELECT event_type, COUNT(*) AS count\nFROM {source}\n"
            f"WHERE {LAST_7_DAYS}\nGROUP BY event_type\nORDER BY count DESC;",
        ),
        "top-titles-by-watch-time": (
            "Top ten titles by total watch time over the last 7 days",
            "SELECT title_id, title_type, SUM(watch_duration_seconds) AS total_watch_time\n"
            f"FROM {source}\nWHERE {LAST_7_DAYS}\nGROUP BY title_id, title_type\n"
            "ORDER BY total_watch_time DESC, title_id\nLIMIT 10;",
        ),
        "device-distribution": (
            "Sessions started per device type over the last 7 days",
            f"SELECT device_type, COUNT(*) AS sessions\nFROM {source}\n"
            f"WHERE event_type = 'start' AND {LAST_7_DAYS}\nGROUP BY device_type\n"
            "ORDER BY sessions DESC;",
        ),
        # The questions a video team asks. A session's watch_duration_seconds is its watch
        # time so far, so a session counts its largest; its buffering is the sum over its
        # events (each event reports its own stalls).
        "buffering-ratio-by-isp-and-state": (
            "Share of viewing time spent buffering, by ISP and state, over the last 7 days",
            "WITH sessions AS (\n"
            "  SELECT session_id, isp, state,\n"
            "    sum(buffering_duration_seconds) AS buffering,\n"
            "    max(watch_duration_seconds) AS watched\n"
            f"  FROM {source}\n  WHERE {LAST_7_DAYS}\n"
            "  GROUP BY session_id, isp, state\n)\n"
            "SELECT isp, state, count(*) AS sessions,\n"
            "  sum(buffering) / nullif(sum(buffering) + sum(watched), 0) AS buffering_ratio\n"
            "FROM sessions\nGROUP BY isp, state\n"
            "ORDER BY buffering_ratio DESC, isp, state;",
        ),
        "error-rate-by-app-version-and-device": (
            "Playback errors per event, by app version and device type, over the last 7 days",
            "SELECT app_version, device_type, count(*) AS events,\n"
            "  sum(error_count) AS errors,\n"
            "  CAST(sum(error_count) AS double) / count(*) AS errors_per_event\n"
            f"FROM {source}\nWHERE {LAST_7_DAYS}\nGROUP BY app_version, device_type\n"
            "ORDER BY errors_per_event DESC, app_version, device_type;",
        ),
        "completion-rate-by-title-type": (
            "Share of started sessions that reach the end, by title type, over the last 7 days",
            "SELECT title_type,\n"
            "  count_if(event_type = 'start') AS sessions,\n"
            "  count_if(event_type = 'complete') AS completed,\n"
            "  CAST(count_if(event_type = 'complete') AS double)\n"
            "    / nullif(count_if(event_type = 'start'), 0) AS completion_rate\n"
            f"FROM {source}\nWHERE {LAST_7_DAYS}\nGROUP BY title_type\n"
            "ORDER BY title_type;",
        ),
    }


def projection_parameters(bucket_name: str, start_year: int) -> dict[str, str]:
    """Glue table parameters for partition projection over the Firehose prefix layout."""
    template = f"s3://{bucket_name}/{DATA_PREFIX}" + "".join(
        # "$${" is a literal "${" in Terraform: Athena fills these in, not Terraform.
        f"{key}=$${{{key}}}/"
        for key in PARTITION_KEYS
    )
    two_digits = {"type": "integer", "digits": "2"}
    return {
        "projection.enabled": "true",
        # Bounded by NOW, so a query without a year filter plans only years that exist.
        "projection.year.type": "date",
        "projection.year.format": "yyyy",
        "projection.year.range": f"{start_year},NOW",
        "projection.year.interval": "1",
        "projection.year.interval.unit": "YEARS",
        **{f"projection.month.{k}": v for k, v in {**two_digits, "range": "1,12"}.items()},
        **{f"projection.day.{k}": v for k, v in {**two_digits, "range": "1,31"}.items()},
        **{f"projection.hour.{k}": v for k, v in {**two_digits, "range": "0,23"}.items()},
        "storage.location.template": template,
    }


@dataclass(frozen=True)
class DataLakeStackProps:
    context: StackContext
    data_lake: DataLakeSettings
    contract: TelemetryContract
    force_destroy_buckets: bool

    def __post_init__(self) -> None:
        if len(self.contract.fields) == 0:
            raise ValueError("DataLakeStackProps.contract has no fields")


class DataLakeStack(PlatformStack):
    contract = DataLakeOutputs

    def __init__(self, scope: Construct, props: DataLakeStackProps) -> None:
        super().__init__(scope, props.context)
        settings = props.data_lake

        data = SecureBucket(
            self,
            "data-bucket",
            SecureBucketProps(
                bucket_name=self.global_name("data"),
                lifecycle=Lifecycle(
                    transitions=(
                        (settings.infrequent_access_after_days, "STANDARD_IA"),
                        (settings.glacier_after_days, "GLACIER"),
                    ),
                    expire_noncurrent_days=settings.noncurrent_version_expiry_days,
                    abort_incomplete_upload_days=settings.abort_incomplete_upload_days,
                ),
                force_destroy=props.force_destroy_buckets,
            ),
        )
        results = SecureBucket(
            self,
            "athena-results-bucket",
            SecureBucketProps(
                bucket_name=self.global_name("athena-results"),
                lifecycle=Lifecycle(
                    expire_current_days=settings.athena_results_expiry_days,
                    expire_noncurrent_days=1,
                    abort_incomplete_upload_days=settings.abort_incomplete_upload_days,
                ),
                force_destroy=True,  # query results are disposable
            ),
        )

        database = GlueCatalogDatabase(
            self,
            "database",
            name=settings.database_name,
            description="ACME video streaming telemetry",
        )
        table = GlueCatalogTable(
            self,
            "events-table",
            database_name=database.name,
            name=settings.table_name,
            description="Video streaming telemetry events (GZIP JSON lines from Firehose)",
            table_type="EXTERNAL_TABLE",
            parameters={
                "classification": "json",
                "compressionType": "gzip",
                "typeOfData": "file",
                **projection_parameters(data.name, settings.projection_start_year),
            },
            partition_keys=[{"name": key, "type": "string"} for key in PARTITION_KEYS],
            storage_descriptor={
                "location": f"s3://{data.name}/{DATA_PREFIX}",
                "input_format": "org.apache.hadoop.mapred.TextInputFormat",
                "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "ser_de_info": {
                    "serialization_library": "org.openx.data.jsonserde.JsonSerDe",
                    "parameters": {"serialization.format": "1"},
                },
                "columns": [
                    {"name": f.name, "type": f.glue_type, "comment": f.description}
                    for f in props.contract.fields
                ],
            },
        )

        workgroup = AthenaWorkgroup(
            self,
            "workgroup",
            name=self.name("analytics"),
            description="Queries over the telemetry data lake",
            state="ENABLED",
            force_destroy=True,
            configuration={
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "result_configuration": {
                    "output_location": f"s3://{results.name}/results/",
                    "encryption_configuration": {"encryption_option": "SSE_S3"},
                },
            },
        )
        for query_name, (description, sql) in named_queries(
            settings.database_name, settings.table_name
        ).items():
            AthenaNamedQuery(
                self,
                f"query-{query_name}",
                name=query_name,
                description=description,
                database=database.name,
                workgroup=workgroup.name,
                query=sql,
            )

        out = DataLakeOutputs
        self.export(out.BUCKET_NAME, data.name)
        self.export(out.BUCKET_ARN, data.arn)
        self.export(out.DATA_PREFIX, DATA_PREFIX)
        self.export(out.GLUE_DATABASE, database.name)
        self.export(out.GLUE_TABLE, table.name)
        self.export(out.ATHENA_WORKGROUP, workgroup.name)
        self.export(out.ATHENA_RESULTS_BUCKET, results.name)
        self.check_contract()
