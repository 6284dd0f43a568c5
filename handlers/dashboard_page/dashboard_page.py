"""Dashboard page Lambda: serves the live dashboard web page behind an API Gateway HTTP API.

The HTTP API's $default route sends every request here (payload format 2.0). The page is
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
    LOG_LEVEL      optional, default INFO.

IAM: none beyond logging.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from json_log import fields, get_logger

log = get_logger("dashboard_page")

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


class SettingsError(ValueError):
    """An environment variable of this function is missing or invalid."""


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


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    if_none_match: str | None = None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: str = ""

    def to_http_api(self) -> dict[str, Any]:
        """The Lambda proxy response of HTTP API payload format 2.0."""
        return {
            "statusCode": self.status,
            "headers": dict(self.headers),
            "body": self.body,
            "isBase64Encoded": False,
        }


def request_from_event(event: Mapping[str, Any]) -> Request:
    """Method, path (without a named stage's prefix), query and If-None-Match of an event."""
    context = event.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    http = context.get("http")
    http = http if isinstance(http, Mapping) else {}
    method = str(http.get("method") or "GET").upper()
    path = event.get("rawPath")
    path = path if isinstance(path, str) and path.startswith("/") else "/"
    stage = context.get("stage")
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = f"/{stage}"
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix) :] or "/"
    raw_query = event.get("rawQueryString")
    query = parse_qs(raw_query) if isinstance(raw_query, str) else {}
    headers = event.get("headers")
    headers = headers if isinstance(headers, Mapping) else {}
    etag = next(
        (str(v) for k, v in headers.items() if str(k).lower() == "if-none-match"),
        None,
    )
    return Request(method=method, path=path, query=query, if_none_match=etag)


def _etag(body: str) -> str:
    return f'"{hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]}"'


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def _text(status: int, message: str, base: Mapping[str, str]) -> Response:
    headers = {**base, "Content-Type": TEXT_TYPE, "Cache-Control": ERROR_CACHE}
    return Response(status, headers, message + "\n")


def route(request: Request, settings: PageSettings, files: StaticFiles) -> Response:
    """The response to one request (pure: no I/O)."""
    base = security_headers(settings.websocket_origin, settings.cognito_origin)
    if request.method not in ALLOWED_METHODS:
        response = _text(405, "Method Not Allowed", base)
        allow = {"Allow": ", ".join(ALLOWED_METHODS)}
        return Response(405, {**response.headers, **allow}, response.body)
    if request.path in PAGE_PATHS:
        body, content_type, cache = render_page(files, settings), HTML_TYPE, HTML_CACHE
    elif request.path in ASSETS:
        body = files.assets[request.path].decode("utf-8")
        content_type = ASSETS[request.path][1]
        versioned = request.query.get("v", []) == [files.versions[request.path]]
        cache = VERSIONED_ASSET_CACHE if versioned else ASSET_CACHE
    else:
        response = _text(404, "Not Found", base)
        return response if request.method == "GET" else Response(404, response.headers)
    etag = _etag(body)
    headers = {**base, "Content-Type": content_type, "Cache-Control": cache, "ETag": etag}
    if _etag_matches(request.if_none_match, etag):
        return Response(304, headers)
    return Response(200, headers, body if request.method == "GET" else "")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    settings = PageSettings.from_env(os.environ)
    request = request_from_event(event if isinstance(event, Mapping) else {})
    response = route(request, settings, static_files())
    log.info(
        "request served",
        extra=fields(
            method=request.method,
            path=request.path,
            status=response.status,
            request_id=getattr(context, "aws_request_id", None),
        ),
    )
    return response.to_http_api()
