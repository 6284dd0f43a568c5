"""The data plane of one emulator process: every service wired to moto, and its controls.

:func:`start` builds and installs, in order: the per-deploy CA, the Lambda runtime and
Invoke (:mod:`.lambda_service`), the brokers of MSK clusters (:mod:`.msk_service`), the
WebSocket and HTTP APIs of API Gateway (:mod:`.apigateway`), Athena queries over the Glue
tables (:mod:`.athena`), Firehose delivery from MSK to S3 (:mod:`.firehose_delivery`), the
EventBridge schedules
(:mod:`.schedules`) and the MSK event source mappings (:mod:`.kafka_event_sources`).
:meth:`DataPlane.stop` stops them in reverse, then every child process (the supervisor).

Two controls join moto's own ``/moto-api``:

* ``GET /moto-api/acme/status``: what runs where (brokers, functions' environments,
  schedules, event source mappings) as JSON;
* ``POST /moto-api/acme/fire-rule`` with ``{"rule": "<name or ARN>"}``: fire a scheduled
  rule now (``python -m emulator fire-rule <name>``);
* ``GET|POST /moto-api/acme/faults``: break one part of the data plane on purpose, for the
  fault suite (:mod:`.faults`).

MSK brokers keep their logs in the emulator's S3 (:class:`.msk_service.S3BrokerStorage`), so a
killed broker restarts with everything it acknowledged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from moto.moto_api._internal import urls as moto_api_urls

from .._compat import patch_attribute
from . import apigateway_moto, athena
from .apigateway import ApiGateway, GatewaySettings
from .credentials import IamPolicyAuthorizer, MotoIdentities
from .faults import FAULTS_PATH, FaultControl, FaultError, install_dynamodb_faults
from .firehose_delivery import FirehoseDelivery
from .kafka_event_sources import KafkaEventSources
from .lambda_async import DEFAULT_TIME_SCALE
from .lambda_logs import MotoLogsSink
from .lambda_runtime import LambdaRuntime
from .lambda_service import LambdaService, invoke_permitted
from .lambda_site import load_site
from .msk_service import MskService, S3BrokerStorage
from .schedules import Schedules
from .supervisor import Supervisor, default_supervisor
from .tls import TlsFiles, ensure_local_ca

log = logging.getLogger("emulator.dataplane")

EVENTS_PRINCIPAL = "events.amazonaws.com"
STATUS_PATH = "/moto-api/acme/status"
FIRE_RULE_PATH = "/moto-api/acme/fire-rule"


@dataclass(frozen=True)
class DataPlaneSettings:
    """Where the data plane keeps its files, and how it is reached."""

    workdir: Path  # CA, extracted code, environments' /tmp, broker logs
    endpoint_url: str  # the emulator itself: AWS_ENDPOINT_URL inside Lambda workers
    async_time_scale: float = DEFAULT_TIME_SCALE

    def __post_init__(self) -> None:
        if not self.endpoint_url.startswith("http://"):
            raise ValueError(
                f"endpoint_url must be the emulator's http:// URL: {self.endpoint_url}"
            )


class DataPlane:
    def __init__(self, settings: DataPlaneSettings, supervisor: Supervisor) -> None:
        self.settings = settings
        self.supervisor = supervisor
        self.identities = MotoIdentities()
        self.tls: TlsFiles = ensure_local_ca(settings.workdir / "tls")
        self.runtime = LambdaRuntime(
            supervisor=supervisor,
            site=load_site(),
            endpoint_url=settings.endpoint_url,
            credentials=self.identities.for_role,
            log_sink=MotoLogsSink(),
            work_dir=settings.workdir / "lambda",
            extra_env=self.tls.worker_environment(),
        )
        self.lambdas = LambdaService(self.runtime, time_scale=settings.async_time_scale)
        self.msk = MskService(
            supervisor=supervisor,
            tls=self.tls,
            identities=self.identities,
            log_dir=settings.workdir / "msk",
            storage=S3BrokerStorage(settings.endpoint_url),
        )
        self.faults = FaultControl(
            clusters=self.msk.clusters, environments=self.runtime.environments
        )
        self.gateway = ApiGateway(
            apis=apigateway_moto.MotoApis(),
            invoke=self._invoke_sync,
            credentials=self.identities.lookup,
            is_allowed=IamPolicyAuthorizer(self.identities.policies).is_allowed,
            permission=apigateway_moto.lambda_permission,
            settings=GatewaySettings(),
        )
        self.firehose = FirehoseDelivery(
            access=self.msk.access,
            credentials=self.identities.for_role,
            authorizer=IamPolicyAuthorizer(self.identities.policies),
        )
        self.schedules = Schedules(
            self._invoke_event,
            lambda function, rule: invoke_permitted(function, EVENTS_PRINCIPAL, rule),
        )
        self.event_sources = KafkaEventSources(
            access=self.msk.access,
            invoke=self._invoke_sync,
            role_credentials=self.identities.for_role,
            role_of=lambda arn: str(self.lambdas.function(arn).role),
            deliver=self.lambdas.deliver,
        )

    # --- what the services ask of Lambda ---

    def _invoke_event(self, function_arn: str, payload: bytes) -> None:
        self.lambdas.invoke_async(self.lambdas.function(function_arn), payload)

    def _invoke_sync(self, function_arn: str, payload: bytes) -> tuple[bytes, str | None]:
        result = self.lambdas.invoke(self.lambdas.function(function_arn), payload)
        return result.payload, result.function_error

    # --- lifecycle ---

    def install(self) -> None:
        self.lambdas.install()
        self.msk.install()
        self.gateway.start()
        apigateway_moto.install(self.gateway)
        athena.install()
        self._follow_moto_reset()
        moto_api_urls.url_paths["{0}" + STATUS_PATH + "$"] = self._status_response
        moto_api_urls.url_paths["{0}" + FIRE_RULE_PATH + "$"] = self._fire_response
        moto_api_urls.url_paths["{0}" + FAULTS_PATH + "$"] = self._faults_response
        install_dynamodb_faults(self.faults.faults)
        self.firehose.start()
        self.schedules.start()
        self.event_sources.start()

    def _follow_moto_reset(self) -> None:
        """``POST /moto-api/reset`` forgets every resource: what serves them stops too."""
        from moto.moto_api._internal.models import MotoAPIBackend

        plane = self
        reset = MotoAPIBackend.reset

        def reset_everything(backend: MotoAPIBackend) -> None:
            reset(backend)
            plane.msk.stop()
            plane.runtime.reap_idle(0)

        patch_attribute(MotoAPIBackend, "reset", reset_everything)

    def stop(self) -> None:
        self.faults.faults.clear()
        self.event_sources.stop()
        self.schedules.stop()
        self.firehose.stop()
        apigateway_moto.uninstall()
        self.gateway.stop()
        athena.shutdown()
        self.lambdas.shutdown()
        self.msk.stop()
        self.supervisor.stop_all()

    # --- controls ---

    def status(self) -> dict[str, Any]:
        return {
            "ca_certificate": str(self.tls.ca_cert),
            "brokers": [
                {
                    "cluster_arn": arn,
                    "front_door": cluster.bootstrap_brokers,
                    "broker": cluster.broker_address,
                    "broker_pid": cluster.process.pid if cluster.process else None,
                }
                for arn, cluster in self.msk.clusters().items()
            ],
            "apis": [
                {"api_id": api.ref.api_id, "protocol": api.protocol, "endpoint": api.endpoint}
                for api in self.gateway.served()
            ],
            "functions": [asdict(env) for env in self.runtime.environments()],
            "schedules": [
                {"rule": rule.name, "arn": rule.arn, "expression": rule.scheduled_expression}
                for rule in self.schedules.rules()
                if rule.scheduled_expression and rule.state == "ENABLED"
            ],
            "fired": [{"rule_arn": arn, "time": at} for arn, at in self.schedules.fired],
            "event_source_mappings": [asdict(s) for s in self.event_sources.status()],
            "delivery_streams": [asdict(s) for s in self.firehose.status()],
            "pending_events": self.lambdas.events.pending(),
        }

    def _status_response(
        self, request: Any, full_url: str, headers: Any
    ) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, json.dumps(self.status()).encode()

    def _fire_response(
        self, request: Any, full_url: str, headers: Any
    ) -> tuple[int, dict[str, str], bytes]:
        content_type = {"Content-Type": "application/json"}
        if request.method != "POST":
            return 405, content_type, b'{"error": "POST {\\"rule\\": name} to fire a rule"}'
        length = int(headers.get("Content-Length") or 0)
        body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
        try:
            rule = self.schedules.find(str(body.get("rule", "")))
        except KeyError as error:
            return 404, content_type, json.dumps({"error": str(error.args[0])}).encode()
        targets = self.schedules.fire(rule)
        return 200, content_type, json.dumps({"rule": rule.arn, "targets": targets}).encode()

    def _faults_response(
        self, request: Any, full_url: str, headers: Any
    ) -> tuple[int, dict[str, str], bytes]:
        content_type = {"Content-Type": "application/json"}
        if request.method == "GET":
            return 200, content_type, json.dumps({"faults": self.faults.faults.status()}).encode()
        length = int(headers.get("Content-Length") or 0)
        try:
            body = json.loads(request.environ["wsgi.input"].read(length) or b"null")
            answer = self.faults.act(body)
        except (ValueError, FaultError) as error:  # FaultError names the problem
            return 400, content_type, json.dumps({"error": str(error)}).encode()
        log.warning("fault injected: %s", answer)
        return 200, content_type, json.dumps(answer).encode()


def start(settings: DataPlaneSettings) -> DataPlane:
    """Build the data plane, patch it into moto, start its threads."""
    plane = DataPlane(settings, default_supervisor())
    plane.install()
    log.info("data plane running (work dir %s)", settings.workdir)
    return plane
