"""CloudWatch alarms that notify one SNS topic: one metric against one threshold
(``MetricAlarm``), and the pair every Lambda function gets (``FunctionAlarms``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from constructs import Construct

STATISTICS = ("Sum", "Average", "Maximum", "Minimum", "SampleCount")
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
MISSING_DATA = ("notBreaching", "breaching", "ignore", "missing")
PERIODS = (10, 30, 60, 300, 900, 3600, 21600, 86400)


@dataclass(frozen=True)
class MetricAlarmProps:
    """dimensions and topic_arn may hold tokens. missing_data: what no data means; most of
    the platform's metrics are only published when something happens, so by default no data
    is not a breach."""

    name: str
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    statistic: str
    comparison: str
    threshold: float
    period_seconds: int
    evaluation_periods: int
    topic_arn: str
    missing_data: str = "notBreaching"

    def __post_init__(self) -> None:
        where = f"MetricAlarmProps {self.name!r}"
        if not 1 <= len(self.name) <= 255:
            raise ValueError(f"{where}: name must be 1-255 characters")
        for value, allowed, label in (
            (self.statistic, STATISTICS, "statistic"),
            (self.comparison, COMPARISONS, "comparison"),
            (self.missing_data, MISSING_DATA, "missing_data"),
            (self.period_seconds, PERIODS, "period_seconds"),
        ):
            if value not in allowed:
                raise ValueError(f"{where}: {label} = {value!r}; allowed: {allowed}")
        if not 1 <= self.evaluation_periods <= 100:
            raise ValueError(f"{where}: evaluation_periods must be 1-100")
        if not self.description:
            raise ValueError(f"{where}: say what it means in description (the runbook's key)")


class AlarmSchedule(TypedDict):
    """How long an alarm looks and where it reports: the same for every alarm of a stack."""

    period_seconds: int
    evaluation_periods: int
    topic_arn: str


class MetricAlarm(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: MetricAlarmProps) -> None:
        super().__init__(scope, construct_id)
        self.alarm = CloudwatchMetricAlarm(
            self,
            "alarm",
            alarm_name=props.name,
            alarm_description=props.description,
            namespace=props.namespace,
            metric_name=props.metric,
            dimensions=dict(props.dimensions),
            statistic=props.statistic,
            comparison_operator=props.comparison,
            threshold=props.threshold,
            period=props.period_seconds,
            evaluation_periods=props.evaluation_periods,
            treat_missing_data=props.missing_data,
            # Recovery is news too: whoever was paged learns it is over.
            alarm_actions=[props.topic_arn],
            ok_actions=[props.topic_arn],
        )


@dataclass(frozen=True)
class FunctionAlarmsProps:
    function_name: str
    topic_arn: str
    errors: int
    throttles: int
    period_seconds: int
    evaluation_periods: int

    def __post_init__(self) -> None:
        if self.errors < 1 or self.throttles < 1:
            raise ValueError(
                f"FunctionAlarmsProps {self.function_name!r}: thresholds must be at least 1"
            )


class FunctionAlarms(Construct):
    """Errors and Throttles of one function, each summed over a period."""

    def __init__(self, scope: Construct, construct_id: str, props: FunctionAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        for metric, threshold, meaning in (
            ("Errors", props.errors, "invocations failed"),
            ("Throttles", props.throttles, "invocations were throttled"),
        ):
            MetricAlarm(
                self,
                metric.lower(),
                MetricAlarmProps(
                    name=f"{props.function_name}-{metric.lower()}",
                    description=f"{props.function_name}: {meaning} (runbook: Lambda {metric})",
                    namespace="AWS/Lambda",
                    metric=metric,
                    dimensions={"FunctionName": props.function_name},
                    statistic="Sum",
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=threshold,
                    period_seconds=props.period_seconds,
                    evaluation_periods=props.evaluation_periods,
                    topic_arn=props.topic_arn,
                ),
            )
