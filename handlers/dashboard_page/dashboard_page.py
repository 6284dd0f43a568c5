"""Dashboard page Lambda: serves the live dashboard web page behind an API Gateway HTTP API.

The HTTP API's $default route sends every request here (payload format 2.0), and Powertools'
APIGatewayHttpResolver routes it: one route per path for GET and HEAD, a not-found handler
for 404 and 405, and a middleware that adds the security headers to every response, drops
HEAD's body and logs the request. The page is
three static files in ``static/`` beside this module (they are in the Lambda zip) and one
setting, the WebSocket URL, injected into the HTML as JSON in
``<script type="application/json" id="config">`` (escaped so no value can end the block;
the page has no inline script, so the Content-Security-Policy needs no 'unsafe-inline').

Routes (GET and HEAD; any other method answers 405 with ``Allow: GET, HEAD``):
    /, /index.html   the page (text/html), Cache-Control max-age=60
    /app.js          the script (text/javascript)
    /style.css       the style sheet (text/css)
    /vendor/uPlot.iife.min.js, /vendor/uPlot.min.css
                     the chart library, pinned in web/package-lock.json
    anything else    404, a short text body
The page links its assets as ``app.js?v=<content hash>``: a request carrying the current
hash may be cached for a year (immutable); without it, for five minutes. Every 200 has a
strong ETag, and a matching If-None-Match answers 304. Every response carries the security
headers: a CSP allowing scripts and styles only from 'self' and connections only to the
WebSocket URL's origin, nosniff, no referrer, no framing.

Environment variables:
    WEBSOCKET_URL  required; the dashboard stack's websocket_url output,
                   wss://{api-id}.execute-api.{region}.amazonaws.com/{stage}. It must be
                   wss://; ws:// is accepted only for a loopback host (127.0.0.0/8, ::1,
                   localhost), which is what local tests use. No user name, password or
                   fragment. Missing or invalid: every request raises SettingsError with
                   the reason (a 500 from API Gateway, the message in the function's log).
    COGNITO_ENDPOINT   with COGNITO_CLIENT_ID: the dashboard is for signed-in users
                   (dashboard.access "cognito"). Cognito's API, https://cognito-idp.
                   {region}.amazonaws.com/ (http:// only for a loopback host: the local
                   platform's emulator). The page signs in there (InitiateAuth) and sends the
                   access token with the WebSocket; the CSP's connect-src adds its origin.
    COGNITO_CLIENT_ID  the dashboard's public app client. Both unset: public access.
    LOG_LEVEL      optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME
                   optional, default telemetry-dashboard-page.

IAM: none beyond logging.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from settings import SettingsError

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-dashboard-page")

STATIC_DIR: Final = Path(__file__).resolve().with_name("static")
ALLOWED_METHODS: Final = ("GET", "HEAD")
PAGE_PATHS: Final = ("/", "/index.html")
# URL path -> (file in static/, Content-Type)
ASSETS: Final[Mapping[str, tuple[str, str]]] = {
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    # The chart library (uPlot, pinned in web/package-lock.json), copied here by
    # `make web-vendor`, served from the page's own origin under the same strict CSP.
    "/vendor/uPlot.iife.min.js": ("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "/vendor/uPlot.min.css": ("vendor/uPlot.min.css", "text/css; charset=utf-8"),
}
HTML_TYPE: Final = "text/html; charset=utf-8"
TEXT_TYPE: Final = "text/plain; charset=utf-8"
HTML_CACHE: Final = "public, max-age=60"
ASSET_CACHE: Final = "public, max-age=300"
VERSIONED_ASSET_CACHE: Final = "public, max-age=31536000, immutable"
ERROR_CACHE: Final = "no-store"
# Placeholders in static/index.html, each replaced exactly once.
CONFIG_PLACEHOLDER: Final = "{{CONFIG_JSON}}"
VERSION_PLACEHOLDERS: Final[Mapping[str, str]] = {
    "{{APP_JS_VERSION}}": "/app.js",
    "{{STYLE_CSS_VERSION}}": "/style.css",
    "{{UPLOT_JS_VERSION}}": "/vendor/uPlot.iife.min.js",
    "{{UPLOT_CSS_VERSION}}": "/vendor/uPlot.min.css",
}

_HOST_RE: Final = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$"
)
_EXPECTED_URL: Final = "wss://{api-id}.execute-api.{region}.amazonaws.com/{stage}"


@dataclass(frozen=True)
class PageSettings:
    websocket_url: str
    # scheme://host[:port] of websocket_url: the CSP connect-src.
    websocket_origin: str

    # Cognito sign-in ("" for public access): InitiateAuth's URL, its origin, the client id.
    cognito_endpoint: str = ""
    cognito_origin: str = ""
    cognito_client_id: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PageSettings:
        url, origin = parse_websocket_url(environ.get("WEBSOCKET_URL", ""))
        endpoint = environ.get("COGNITO_ENDPOINT", "").strip()
        client_id = environ.get("COGNITO_CLIENT_ID", "").strip()
        if not endpoint and not client_id:
            return cls(url, origin)
        if not re.fullmatch(r"[A-Za-z0-9]{1,128}", client_id):
            raise SettingsError(
                f"COGNITO_CLIENT_ID must be the app client's id (letters and digits), "
                f"got {client_id!r}"
            )
        endpoint, cognito_origin = parse_cognito_endpoint(endpoint)
        return cls(url, origin, endpoint, cognito_origin, client_id)

    @property
    def access(self) -> str:
        return "cognito" if self.cognito_client_id else "public"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_websocket_url(raw: str) -> tuple[str, str]:
    """(url, origin) of a valid WebSocket URL; SettingsError says what is wrong."""
    url = raw.strip()
    if not url:
        raise SettingsError(
            f"WEBSOCKET_URL is required: the dashboard stack's websocket_url, {_EXPECTED_URL}"
        )

    def invalid(reason: str) -> SettingsError:
        return SettingsError(f"WEBSOCKET_URL {reason}; expected {_EXPECTED_URL}, got {url!r}")

    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise invalid("must not contain spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("wss", "ws"):
        raise invalid("must start with wss://")
    if "@" in parts.netloc:
        raise invalid("must not contain a user name or password")
    netloc = parts.netloc.lower()
    if not _HOST_RE.match(netloc):
        raise invalid("has no valid host name")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise invalid("has an invalid port")
    host = parts.hostname or ""
    if scheme == "ws" and not _is_loopback(host):
        raise invalid("must start with wss:// (ws:// is accepted only for a loopback host)")
    if parts.fragment or url.endswith("#"):
        raise invalid("must not have a #fragment")
    return url, f"{scheme}://{netloc}"


def parse_cognito_endpoint(raw: str) -> tuple[str, str]:
    """(url, origin) of Cognito's API; https://, or http:// for a loopback host only."""
    parts = urlsplit(raw)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    valid = (
        scheme in ("https", "http")
        and _HOST_RE.match(netloc) is not None
        and not any(ch.isspace() or ord(ch) < 0x20 for ch in raw)
        and (scheme == "https" or _is_loopback(parts.hostname or ""))
        and not (parts.query or parts.fragment or "@" in netloc)
    )
    if not valid:
        raise SettingsError(
            "COGNITO_ENDPOINT must be https://cognito-idp.{region}.amazonaws.com/ "
            f"(http:// only for a loopback host), got {raw!r}"
        )
    return raw, f"{scheme}://{netloc}"


# ---------------------------------------------------------------- page content


def script_json(value: Any) -> str:
    """JSON that is safe inside an HTML <script> element: no '<', '>' or '&' characters.

    With them escaped (\\u003c ...), no value can close the element ("</script>") or open a
    comment ("<!--"); ensure_ascii also escapes U+2028/U+2029. JSON.parse reads it back
    unchanged.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_config(settings: PageSettings) -> dict[str, Any]:
    """What the page's script reads from the config block."""
    config = {"websocketUrl": settings.websocket_url, "access": settings.access}
    if settings.cognito_client_id:
        config["cognitoEndpoint"] = settings.cognito_endpoint
        config["cognitoClientId"] = settings.cognito_client_id
    return config


@dataclass(frozen=True)
class StaticFiles:
    """The page template and the assets, read from static/ once per execution environment."""

    template: str
    assets: Mapping[str, bytes]
    versions: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path = STATIC_DIR) -> StaticFiles:
        template = (folder / "index.html").read_text(encoding="utf-8")
        missing = [name for name, _type in ASSETS.values() if not (folder / name).is_file()]
        if missing:
            raise RuntimeError(
                f"{folder}: missing {', '.join(missing)}; the chart library is installed "
                "by `make web-vendor` (npm ci in web/)"
            )
        assets = {path: (folder / name).read_bytes() for path, (name, _type) in ASSETS.items()}
        versions = {path: content_version(data) for path, data in assets.items()}
        for placeholder in (CONFIG_PLACEHOLDER, *VERSION_PLACEHOLDERS):
            if template.count(placeholder) != 1:
                raise RuntimeError(f"{folder / 'index.html'}: {placeholder} must appear once")
        return cls(template, assets, versions)


@functools.cache
def static_files() -> StaticFiles:
    return StaticFiles.load()


def content_version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def render_page(files: StaticFiles, settings: PageSettings) -> str:
    page = files.template
    for placeholder, path in VERSION_PLACEHOLDERS.items():
        page = page.replace(placeholder, files.versions[path])
    return page.replace(CONFIG_PLACEHOLDER, script_json(page_config(settings)))


# ---------------------------------------------------------------- HTTP


def content_security_policy(websocket_origin: str, cognito_origin: str = "") -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            # The empty favicon (<link rel="icon" href="data:,">): no /favicon.ico request.
            "img-src data:",
            # The WebSocket API, and Cognito's API when the page signs in.
            f"connect-src {' '.join(o for o in (websocket_origin, cognito_origin) if o)}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(websocket_origin: str, cognito_origin: str = "") -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(websocket_origin, cognito_origin),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Strict-Transport-Security": "max-age=31536000",
    }


def _etag(body: str) -> str:
    return f'"{hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]}"'


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def _strings(value: Any) -> dict[str, str]:
    items = value.items() if isinstance(value, Mapping) else ()
    return {k: v for k, v in items if isinstance(k, str) and isinstance(v, str)}


def http_api_event(event: Any) -> dict[str, Any]:
    """The event with what routing reads well-formed, as API Gateway always sends it.

    A missing or odd method, path or stage reads as GET, / and $default; headers and query
    parameters keep their string values. The data class strips a named stage's prefix from
    the path; a path outside that prefix (a custom domain's) is routed as it is, and the
    prefix alone is the root.
    """
    source: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
    context = source.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    http = context.get("http")
    http = http if isinstance(http, Mapping) else {}
    method = http.get("method")
    method = method.upper() if isinstance(method, str) and method else "GET"
    path = source.get("rawPath")
    path = path if isinstance(path, str) and path.startswith("/") else "/"
    stage = context.get("stage")
    stage = stage if isinstance(stage, str) and stage else "$default"
    if stage != "$default":
        prefix = f"/{stage}"
        if path == prefix:
            path = f"{prefix}/"
        elif not path.startswith(f"{prefix}/"):
            stage = "$default"
    return {
        **source,
        "rawPath": path,
        "headers": _strings(source.get("headers")),
        "queryStringParameters": _strings(source.get("queryStringParameters")),
        "requestContext": {**context, "stage": stage, "http": {**http, "method": method}},
    }


# Powertools' resolver routes each request; lambda_handler puts the request's settings and
# static files in its context. The resolver keeps the current request in class attributes,
# so requests go through it one at a time: Lambda never runs two at once in one execution
# environment, but a threaded local server (the web tests' stand-in) would.
app = APIGatewayHttpResolver()
_one_request_at_a_time = threading.Lock()


def _settings() -> PageSettings:
    settings: PageSettings = app.context["settings"]
    return settings


def _files() -> StaticFiles:
    files: StaticFiles = app.context["files"]
    return files


def _representation(body: str, content_type: str, cache: str) -> Response[str]:
    """200 with a strong ETag, or 304 when If-None-Match names it."""
    etag = _etag(body)
    headers = {"Content-Type": content_type, "Cache-Control": cache, "ETag": etag}
    if _etag_matches(app.current_event.headers.get("if-none-match"), etag):
        return Response(304, headers=headers, body="")
    return Response(200, headers=headers, body=body)


def _text(status: int, message: str, **headers: str) -> Response[str]:
    headers = {"Content-Type": TEXT_TYPE, "Cache-Control": ERROR_CACHE, **headers}
    return Response(status, headers=headers, body=message + "\n")


def page() -> Response[str]:
    return _representation(render_page(_files(), _settings()), HTML_TYPE, HTML_CACHE)


def asset(path: str) -> Callable[[], Response[str]]:
    """The route of one asset: a year of caching when asked for its current version."""
    content_type = ASSETS[path][1]

    def serve() -> Response[str]:
        files = _files()
        versioned = app.current_event.query_string_parameters.get("v") == files.versions[path]
        cache = VERSIONED_ASSET_CACHE if versioned else ASSET_CACHE
        return _representation(files.assets[path].decode("utf-8"), content_type, cache)

    return serve


# Rules are regular expressions to the resolver: the paths are escaped ("." is a dot).
for _path in PAGE_PATHS:
    app.route(re.escape(_path), method=list(ALLOWED_METHODS))(page)
for _path in ASSETS:
    app.route(re.escape(_path), method=list(ALLOWED_METHODS))(asset(_path))


@app.not_found
def not_found(_error: NotFoundError) -> Response[str]:
    """Any other path: 404; any other method, on any path: 405."""
    if app.current_event.http_method not in ALLOWED_METHODS:
        return _text(405, "Method Not Allowed", Allow=", ".join(ALLOWED_METHODS))
    return _text(404, "Not Found")


def every_response(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
    """The security headers on every response; HEAD answers GET's headers with no body."""
    response: Response[str] = next_middleware(app)
    settings = _settings()
    response.headers.update(security_headers(settings.websocket_origin, settings.cognito_origin))
    if app.current_event.http_method == "HEAD":
        response.body = ""
    logger.info(
        "request served",
        method=app.current_event.http_method,
        path=app.current_event.path,
        status=response.status_code,
        request_id=getattr(app.lambda_context, "aws_request_id", None),
    )
    return response


app.use([every_response])


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    # Settings and files first: a missing WEBSOCKET_URL fails every request, loudly.
    settings = PageSettings.from_env(os.environ)
    files = static_files()
    with _one_request_at_a_time:
        app.append_context(settings=settings, files=files)  # type: ignore[no-untyped-call]
        response: dict[str, Any] = app.resolve(http_api_event(event), context)
    return response
