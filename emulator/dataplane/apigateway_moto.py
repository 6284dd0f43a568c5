"""The API gateway's view of moto: APIs as stored, endpoints as reported, Lambda permissions.

Written for moto 5.2.5 (``moto.apigatewayv2``, ``moto.awslambda``); :func:`install` checks
the version.

* :class:`MotoApis` reads an API's stages, routes (with their route responses), integrations
  and authorizers from moto's apigatewayv2 backend on every call: what Terraform changed a
  moment ago applies to the next request.
* :func:`install` patches moto's ``CreateApi`` so that each new API is served at once by the
  given :class:`~emulator.dataplane.apigateway.ApiGateway` and its ``ApiEndpoint`` is the
  local address (``ws://127.0.0.1:<port>`` / ``http://127.0.0.1:<port>``; moto's own value,
  ``https://<id>.execute-api.<region>.amazonaws.com`` for every protocol, opens nothing).
  ``DeleteApi`` and moto's reset stop the API's server. :func:`uninstall` restores moto.
* :func:`lambda_permission` answers whether a function's resource policy lets
  ``apigateway.amazonaws.com`` invoke it for a source ARN (what ``aws_lambda_permission``
  granted), as Lambda decides when API Gateway invokes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Protocol, TypeVar

from moto.apigatewayv2.models import ApiGatewayV2Backend, apigatewayv2_backends

from .._compat import check_moto_version
from .apigateway_core import (
    ApiRef,
    ApiSpec,
    AuthorizerSpec,
    IntegrationSpec,
    RouteSpec,
    StageSpec,
)
from .lambda_service import invoke_permitted

__all__ = ["MotoApis", "Serving", "install", "lambda_permission", "uninstall"]

log = logging.getLogger("emulator.apigateway")

_V = TypeVar("_V")
APIGATEWAY_PRINCIPAL: Final = "apigateway.amazonaws.com"


class Serving(Protocol):
    """What :func:`install` needs of the gateway."""

    def serve(self, ref: ApiRef, protocol: str) -> str: ...

    def forget(self, ref: ApiRef) -> None: ...


_lock = threading.Lock()
_gateway: Serving | None = None
_originals: dict[str, Callable[..., Any]] = {}
_own: dict[str, bool] = {}  # was the method defined on ApiGatewayV2Backend itself?


def _snapshot(values: Mapping[str, Any]) -> list[Any]:
    # moto's dicts may change under a werkzeug request thread while this thread reads.
    for _ in range(5):
        try:
            return list(values.values())
        except RuntimeError:
            continue
    return list(values.values())


class _Lazy(Mapping[str, _V]):
    """A mapping built on first use: the @connections path reads an API's stages only, so
    its routes, integrations and authorizers are not copied out of moto for it."""

    def __init__(self, build: Callable[[], dict[str, _V]]) -> None:
        self._build = build
        self._built: dict[str, _V] | None = None

    def _items(self) -> dict[str, _V]:
        if self._built is None:
            self._built = self._build()
        return self._built

    def __getitem__(self, key: str) -> _V:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


class MotoApis:
    """An :data:`~emulator.dataplane.apigateway_core.ApiSource` over moto's models."""

    def __call__(self, ref: ApiRef) -> ApiSpec | None:
        try:
            backend = apigatewayv2_backends[ref.account_id][ref.region]
        except KeyError:
            return None
        api = backend.apis.get(ref.api_id)
        if api is None:
            return None
        stages = {
            stage.name: StageSpec(stage.name, dict(stage.stage_variables or {}))
            for stage in _snapshot(api.stages)
        }
        return ApiSpec(
            ref=ref,
            protocol=api.protocol_type,
            route_selection_expression=api.route_selection_expression or "",
            stages=stages,
            routes=_Lazy(lambda: _routes(api)),
            integrations=_Lazy(lambda: _integrations(api)),
            authorizers=_Lazy(lambda: _authorizers(api)),
        )


def _routes(api: Any) -> dict[str, RouteSpec]:
    routes = {}
    for route in _snapshot(api.routes):
        target = route.target or ""
        routes[route.route_key] = RouteSpec(
            route_key=route.route_key,
            integration_id=target.removeprefix("integrations/") or None,
            authorization_type=route.authorization_type or "NONE",
            authorizer_id=route.authorizer_id,
            two_way=bool(route.route_response_selection_expression) and bool(route.route_responses),
        )
    return routes


def _integrations(api: Any) -> dict[str, IntegrationSpec]:
    return {
        integration.id: IntegrationSpec(
            integration_id=integration.id,
            integration_type=integration.integration_type or "",
            uri=integration.integration_uri or "",
            payload_format_version=integration.payload_format_version or "1.0",
            timeout_ms=int(integration.timeout_in_millis)
            if integration.timeout_in_millis
            else None,
        )
        for integration in _snapshot(api.integrations)
    }


def _authorizers(api: Any) -> dict[str, AuthorizerSpec]:
    return {
        authorizer.id: AuthorizerSpec(
            authorizer_id=authorizer.id,
            authorizer_type=authorizer.authorizer_type or "",
            uri=authorizer.authorizer_uri or "",
            identity_sources=_identity_sources(authorizer.identity_source),
        )
        for authorizer in _snapshot(api.authorizers)
    }


def _identity_sources(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return tuple(str(part) for part in value)
    return ()


def lambda_permission(function_arn: str, source_arn: str) -> bool:
    """Does the function's resource policy let API Gateway invoke it for ``source_arn``?"""
    return invoke_permitted(function_arn, APIGATEWAY_PRINCIPAL, source_arn)


def install(gateway: Serving) -> None:
    """Patch moto: CreateApi serves the API and reports its local endpoint; DeleteApi stops it.

    APIs already in moto are served too (their endpoint changes to the local one). Calling
    it again switches to another gateway.
    """
    global _gateway
    check_moto_version(__name__)
    with _lock:
        _gateway = gateway
        if not _originals:
            for name, patched in _PATCHES.items():
                _originals[name] = getattr(ApiGatewayV2Backend, name)
                _own[name] = name in vars(ApiGatewayV2Backend)
                setattr(ApiGatewayV2Backend, name, patched)
    for account_id, regions in list(apigatewayv2_backends.items()):
        for region, backend in list(regions.items()):
            for api in list(backend.apis.values()):
                ref = ApiRef(account_id, region, api.api_id)
                api.api_endpoint = gateway.serve(ref, api.protocol_type)


def uninstall() -> None:
    """Restore moto's CreateApi and DeleteApi (the gateway keeps serving what it serves)."""
    global _gateway
    with _lock:
        for name, original in list(_originals.items()):
            if _own.pop(name):
                setattr(ApiGatewayV2Backend, name, original)
            else:
                delattr(ApiGatewayV2Backend, name)  # inherited: let the base class's show again
        _originals.clear()
        _gateway = None


def _create_api(self: ApiGatewayV2Backend, *args: Any, **kwargs: Any) -> Any:
    api = _originals["create_api"](self, *args, **kwargs)
    gateway = _gateway
    if gateway is not None:
        ref = ApiRef(self.account_id, self.region_name, api.api_id)
        api.api_endpoint = gateway.serve(ref, api.protocol_type)
    return api


def _delete_api(self: ApiGatewayV2Backend, api_id: str) -> None:
    _originals["delete_api"](self, api_id)
    gateway = _gateway
    if gateway is not None:
        gateway.forget(ApiRef(self.account_id, self.region_name, api_id))


def _reset(self: ApiGatewayV2Backend) -> None:
    """``POST /moto-api/reset`` forgets every API: stop serving them too."""
    gateway = _gateway
    if gateway is not None:
        for api_id in list(getattr(self, "apis", {})):
            gateway.forget(ApiRef(self.account_id, self.region_name, api_id))
    _originals["reset"](self)


_PATCHES: Final[dict[str, Callable[..., Any]]] = {
    "create_api": _create_api,
    "delete_api": _delete_api,
    "reset": _reset,
}
