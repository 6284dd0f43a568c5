"""The dashboard page Lambda: settings, routing, headers and the injected configuration.

Pure functions are called directly; lambda_handler gets real HTTP API payload 2.0 events.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import dashboard_page
import pytest

from modules.packaging import PackageSpec, build_package
from tests.support.lambda_context import FakeLambdaContext
from tests.web.web_support import http_api_event

WSS_URL = "wss://abc123.execute-api.us-west-2.amazonaws.com/live"
WSS_ORIGIN = "wss://abc123.execute-api.us-west-2.amazonaws.com"
STATIC = Path(dashboard_page.__file__).resolve().parent / "static"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def websocket_url(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WEBSOCKET_URL", WSS_URL)
    dashboard_page.static_files.cache_clear()
    return WSS_URL


def call(method: str = "GET", path: str = "/", query: str = "", **headers: str) -> dict[str, Any]:
    event = http_api_event(method, path, query, headers)
    response: dict[str, Any] = dashboard_page.lambda_handler(event, FakeLambdaContext())
    return response


def csp_directives(response: dict[str, Any]) -> dict[str, list[str]]:
    policy = response["headers"]["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in directives, f"{name} given twice"
        directives[name] = values
    return directives


class PageParser(HTMLParser):
    """Every start tag with its attributes, and the text of each <script> element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


def config_of(html: str) -> Any:
    configs = [text for attrs, text in parse(html).scripts if attrs.get("id") == "config"]
    assert len(configs) == 1
    return json.loads(configs[0])


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        (WSS_URL, WSS_ORIGIN),
        ("  wss://ABC.example.com:8443/live/  ", "wss://abc.example.com:8443"),
        ("wss://example.com", "wss://example.com"),
        ("ws://127.0.0.1:9001", "ws://127.0.0.1:9001"),
        ("ws://127.8.9.10:9001/x", "ws://127.8.9.10:9001"),
        ("ws://localhost:9001", "ws://localhost:9001"),
        ("ws://[::1]:9001", "ws://[::1]:9001"),
    ],
)
def test_valid_websocket_urls(url: str, origin: str) -> None:
    settings = dashboard_page.PageSettings.from_env({"WEBSOCKET_URL": url})
    assert settings.websocket_url == url.strip()
    assert settings.websocket_origin == origin


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (None, "WEBSOCKET_URL is required"),
        ("   ", "WEBSOCKET_URL is required"),
        ("https://abc.execute-api.us-west-2.amazonaws.com/live", "must start with wss://"),
        ("abc.execute-api.us-west-2.amazonaws.com/live", "must start with wss://"),
        ("ws://abc.execute-api.us-west-2.amazonaws.com/live", "only for a loopback host"),
        ("ws://10.0.0.1:9001", "only for a loopback host"),
        ("wss://user:secret@example.com/live", "user name or password"),
        ("wss:///live", "no valid host name"),
        ("wss://exa_mple.com/live", "no valid host name"),
        ("wss://example.com;script-src *", "spaces or control characters"),
        ("wss://example.com;script-src/", "no valid host name"),
        ("wss://example.com:99999/live", "invalid port"),
        ("wss://example.com:0/live", "invalid port"),
        ("wss://example.com/live#top", "#fragment"),
        ("wss://example.com/li\nve", "spaces or control characters"),
    ],
)
def test_invalid_websocket_urls_fail_clearly(url: str | None, reason: str) -> None:
    environ = {} if url is None else {"WEBSOCKET_URL": url}
    with pytest.raises(dashboard_page.SettingsError, match=re.escape(reason)) as error:
        dashboard_page.PageSettings.from_env(environ)
    assert "wss://{api-id}.execute-api.{region}.amazonaws.com/{stage}" in str(error.value)


def test_handler_without_websocket_url_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBSOCKET_URL")
    with pytest.raises(dashboard_page.SettingsError, match="WEBSOCKET_URL is required"):
        call()
    monkeypatch.setenv("WEBSOCKET_URL", "http://example.com/live")
    with pytest.raises(dashboard_page.SettingsError, match="must start with wss://"):
        call()


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize("path", ["/", "/index.html"])
def test_page(path: str) -> None:
    response = call(path=path)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert response["headers"]["Cache-Control"] == "public, max-age=60"
    assert response["body"].startswith("<!doctype html>")
    assert config_of(response["body"]) == {"websocketUrl": WSS_URL, "access": "public"}


@pytest.mark.parametrize(
    ("path", "file", "content_type"),
    [
        ("/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/vendor/uPlot.iife.min.js", "vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
        ("/vendor/uPlot.min.css", "vendor/uPlot.min.css", "text/css; charset=utf-8"),
    ],
)
def test_assets(path: str, file: str, content_type: str) -> None:
    response = call(path=path)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == content_type
    assert response["headers"]["Cache-Control"] == "public, max-age=300"
    assert response["body"] == (STATIC / file).read_text(encoding="utf-8")


def test_page_links_versioned_assets_that_may_be_cached_for_long() -> None:
    tags = parse(call()["body"]).tags
    scripts = [a["src"] or "" for t, a in tags if t == "script" and a.get("src")]
    sheets = [a["href"] or "" for t, a in tags if t == "link" and a.get("rel") == "stylesheet"]
    # The chart library first: app.js (deferred, like it) runs after it.
    files = ["vendor/uPlot.iife.min.js", "app.js", "vendor/uPlot.min.css", "style.css"]
    assert [link.partition("?")[0] for link in scripts + sheets] == files
    for link, file in zip(scripts + sheets, files, strict=True):
        path, _, query = link.partition("?")
        assert path == file  # relative: works under a named stage too
        expected = dashboard_page.content_version((STATIC / file).read_bytes())
        assert query == f"v={expected}"
        response = call(path=f"/{path}", query=query)
        assert response["headers"]["Cache-Control"] == "public, max-age=31536000, immutable"
        # An old or unknown version gets today's file, but only briefly cached.
        stale = call(path=f"/{path}", query="v=0000000000000000")
        assert stale["headers"]["Cache-Control"] == "public, max-age=300"
        assert stale["body"] == response["body"]


@pytest.mark.parametrize(
    "path",
    [
        "/favicon.ico",
        "/static/app.js",
        "/dashboard_page.py",
        "/bundle.json",
        "/../dashboard_page.py",
        "/index.htm",
        "/app.js/",
        "//app.js",
        "/APP.JS",
    ],
)
def test_anything_else_is_404(path: str) -> None:
    response = call(path=path)
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "text/plain; charset=utf-8"
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["body"] == "Not Found\n"
    assert response["headers"]["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/app.js", "/nope"])
def test_other_methods_are_405_with_allow(method: str, path: str) -> None:
    response = call(method=method, path=path)
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "GET, HEAD"
    assert response["body"] == "Method Not Allowed\n"
    assert "Content-Security-Policy" in response["headers"]


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js", "/style.css", "/nope"])
def test_head_has_the_get_headers_and_no_body(path: str) -> None:
    get, head = call(path=path), call(method="HEAD", path=path)
    assert head["statusCode"] == get["statusCode"]
    assert head["headers"] == get["headers"]
    assert head["body"] == ""


def test_named_stage_prefix_is_not_part_of_the_route() -> None:
    event = http_api_event("GET", "/live/app.js", stage="live")
    assert dashboard_page.lambda_handler(event, None)["statusCode"] == 200
    event = http_api_event("GET", "/live", stage="live")
    assert dashboard_page.lambda_handler(event, None)["statusCode"] == 200


def test_minimal_and_odd_events_do_not_crash() -> None:
    assert dashboard_page.lambda_handler({}, None)["statusCode"] == 200  # GET / by default
    odd = {"rawPath": 5, "requestContext": "x", "headers": None, "rawQueryString": None}
    assert dashboard_page.lambda_handler(odd, None)["statusCode"] == 200
    assert dashboard_page.lambda_handler(None, None)["statusCode"] == 200


def test_etag_and_if_none_match(monkeypatch: pytest.MonkeyPatch) -> None:
    first = call(path="/app.js")
    etag = first["headers"]["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = call(path="/app.js", **{"If-None-Match": f'"other", {etag}'})
    assert again["statusCode"] == 304
    assert again["body"] == ""
    assert again["headers"]["ETag"] == etag
    assert call(path="/app.js", **{"If-None-Match": '"other"'})["statusCode"] == 200
    # The page's ETag follows the injected configuration.
    page = call()["headers"]["ETag"]
    monkeypatch.setenv("WEBSOCKET_URL", "wss://other.example.com/live")
    assert call()["headers"]["ETag"] != page


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize("path", ["/", "/app.js", "/style.css", "/nope"])
def test_security_headers_on_every_response(path: str) -> None:
    headers = call(path=path)["headers"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "charset=utf-8" in headers["Content-Type"]


def test_csp_allows_only_self_scripts_and_styles_and_the_websocket_origin() -> None:
    directives = csp_directives(call())
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == [WSS_ORIGIN]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    policy = " ".join(v for values in directives.values() for v in values)
    assert "unsafe" not in policy
    assert "*" not in policy


def test_csp_connect_src_follows_a_local_websocket_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSOCKET_URL", "ws://127.0.0.1:8765/")
    assert csp_directives(call())["connect-src"] == ["ws://127.0.0.1:8765"]


COGNITO_ENDPOINT = "https://cognito-idp.us-west-2.amazonaws.com/"


def test_public_access_config_has_no_sign_in() -> None:
    assert config_of(call()["body"]) == {"websocketUrl": WSS_URL, "access": "public"}


def test_cognito_access_puts_the_sign_in_in_the_config_and_its_origin_in_the_csp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COGNITO_ENDPOINT", COGNITO_ENDPOINT)
    monkeypatch.setenv("COGNITO_CLIENT_ID", "3n4b5urk1ft4fl3mg5e62d9ado")
    response = call()
    assert config_of(response["body"]) == {
        "websocketUrl": WSS_URL,
        "access": "cognito",
        "cognitoEndpoint": COGNITO_ENDPOINT,
        "cognitoClientId": "3n4b5urk1ft4fl3mg5e62d9ado",
    }
    assert csp_directives(response)["connect-src"] == [
        WSS_ORIGIN,
        "https://cognito-idp.us-west-2.amazonaws.com",
    ]
    assert csp_directives(response)["form-action"] == ["'none'"]


@pytest.mark.parametrize(
    ("endpoint", "client_id", "reason"),
    [
        ("http://cognito-idp.us-west-2.amazonaws.com/", "abc123", "COGNITO_ENDPOINT must be"),
        ("https://user@cognito.example.com/", "abc123", "COGNITO_ENDPOINT must be"),
        ("https://cognito example/", "abc123", "COGNITO_ENDPOINT must be"),
        (COGNITO_ENDPOINT, "", "COGNITO_CLIENT_ID must be"),
        ("", "abc123", "COGNITO_ENDPOINT must be"),
        (COGNITO_ENDPOINT, "abc</script>", "COGNITO_CLIENT_ID must be"),
    ],
)
def test_invalid_cognito_settings_fail_clearly(endpoint: str, client_id: str, reason: str) -> None:
    environ = {"WEBSOCKET_URL": WSS_URL, "COGNITO_ENDPOINT": endpoint}
    environ["COGNITO_CLIENT_ID"] = client_id
    with pytest.raises(dashboard_page.SettingsError, match=reason):
        dashboard_page.PageSettings.from_env(environ)


def test_local_cognito_endpoint_may_be_plain_http_on_loopback() -> None:
    settings = dashboard_page.PageSettings.from_env(
        {
            "WEBSOCKET_URL": "ws://127.0.0.1:9001",
            "COGNITO_ENDPOINT": "http://127.0.0.1:4566/",
            "COGNITO_CLIENT_ID": "abc123",
        }
    )
    assert settings.cognito_origin == "http://127.0.0.1:4566"
    assert settings.access == "cognito"


# ---------------------------------------------------------------- injected configuration

HOSTILE = [
    "</script><script>alert(1)</script>",
    "</SCRIPT ><img src=x onerror=alert(1)>",
    "<!--<script>",
    '"};alert(1);//',
    "\u2028\u2029&amp;'\\",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_script_json_cannot_leave_the_script_block(value: str) -> None:
    text = dashboard_page.script_json({"websocketUrl": value})
    assert not set("<>&") & set(text)
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"websocketUrl": value}


@pytest.mark.parametrize("suffix", [v for v in HOSTILE if " " not in v and "\u2028" not in v])
def test_hostile_url_stays_inside_the_config_block(
    monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    url = f"wss://example.com/live/{suffix}"
    monkeypatch.setenv("WEBSOCKET_URL", url)
    page = call()["body"]
    parsed = parse(page)
    scripts = [(attrs.get("type"), attrs.get("src")) for attrs, _ in parsed.scripts]
    assert scripts == [
        ("application/json", None),
        (None, f"vendor/uPlot.iife.min.js?v={_version('vendor/uPlot.iife.min.js')}"),
        (None, f"app.js?v={_version('app.js')}"),
    ]
    assert [t for t, _ in parsed.tags].count("img") == 0
    assert config_of(page) == {"websocketUrl": url, "access": "public"}


def _version(file: str) -> str:
    version: str = dashboard_page.content_version((STATIC / file).read_bytes())
    return version


# ---------------------------------------------------------------- the static files


def test_page_has_no_inline_script_or_style_and_no_third_party_assets() -> None:
    page = call()["body"]
    parsed = parse(page)
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "style" not in attrs, (tag, attrs)
        assert tag != "style"
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert value == "data:," or not ("//" in value or ":" in value), (tag, value)
    for attrs, text in parsed.scripts:
        assert attrs.get("src") or (attrs.get("type") == "application/json"), attrs
        assert attrs.get("src") is None or not text.strip()
    for file in ("index.html", "app.js", "style.css"):
        text = (STATIC / file).read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{file} refers to another site"
        assert "@import" not in text and "url(" not in text
    app = (STATIC / "app.js").read_text(encoding="utf-8")
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert risky not in app


def test_page_is_accessible_by_construction() -> None:
    tags = parse(call()["body"]).tags
    html = next(a for t, a in tags if t == "html")
    assert html.get("lang") == "en"
    status = next(a for t, a in tags if a.get("id") == "status")
    assert status.get("role") == "status" and status.get("aria-live") == "polite"
    assert [t for t, _ in tags].count("h1") == 1
    assert {"main", "header", "table", "caption", "th"} <= {t for t, _ in tags}
    headers = [a for t, a in tags if t == "th"]
    assert headers and all(a.get("scope") == "col" for a in headers)


# What the page makes a browser download and parse, the chart library included. It was
# 80,567 bytes (28,045 gzipped) when set; the budget leaves room, not a blank cheque.
ASSET_BUDGET_BYTES = 100_000
ASSET_BUDGET_GZIP_BYTES = 35_000


def test_script_and_style_stay_within_their_budget() -> None:
    import gzip

    files = ["app.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"]
    assert set(files) == {name for name, _type in dashboard_page.ASSETS.values()}
    data = [(STATIC / file).read_bytes() for file in files]
    raw = sum(len(d) for d in data)
    zipped = sum(len(gzip.compress(d, 9)) for d in data)
    assert raw <= ASSET_BUDGET_BYTES, f"{raw} bytes of script and style > {ASSET_BUDGET_BYTES}"
    assert zipped <= ASSET_BUDGET_GZIP_BYTES, f"{zipped} gzipped > {ASSET_BUDGET_GZIP_BYTES}"


def test_missing_chart_library_is_a_clear_error(tmp_path: Path) -> None:
    for file in ("index.html", "app.js", "style.css"):
        (tmp_path / file).write_bytes((STATIC / file).read_bytes())
    with pytest.raises(RuntimeError, match=r"missing vendor/uPlot.iife.min.js.*make web-vendor"):
        dashboard_page.StaticFiles.load(tmp_path)


def test_missing_placeholder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    for file in ("app.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"):
        (tmp_path / file).write_bytes((STATIC / file).read_bytes())
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    (tmp_path / "index.html").write_text(template.replace("{{CONFIG_JSON}}", ""))
    with pytest.raises(RuntimeError, match=r"\{\{CONFIG_JSON\}\} must appear once"):
        dashboard_page.StaticFiles.load(tmp_path)


def test_packaged_zip_serves_the_page(tmp_path: Path) -> None:
    """The zip the packaging builds (static/ included) serves every route from its root."""
    built = build_package(
        PackageSpec(
            handlers_root=REPO_ROOT / "handlers",
            function="dashboard_page",
            build_dir=tmp_path / "build",
            contract_path=REPO_ROOT / "contracts" / "telemetry_event.json",
        )
    )
    root = tmp_path / "task"
    with zipfile.ZipFile(built.zip_path) as archive:
        names = set(archive.namelist())
        archive.extractall(root)
    # Beside its third-party packages (requirements.txt: Powertools and its closure):
    third_party = ("aws_lambda_powertools", "typing_extensions")
    assert {"aws_lambda_powertools/__init__.py", "typing_extensions.py"} <= names
    assert {n for n in names if not n.startswith(third_party)} == {
        "dashboard_page.py",
        "settings.py",
        "static/index.html",
        "static/app.js",
        "static/style.css",
        "static/vendor/uPlot.iife.min.js",
        "static/vendor/uPlot.min.css",
        "static/vendor/LICENSE",
    }
    check = (
        "import json, sys, dashboard_page\n"
        "out = {}\n"
        "for path in ['/', '/app.js', '/style.css', '/vendor/uPlot.iife.min.js', '/x']:\n"
        "    event = {'rawPath': path, 'requestContext': {'http': {'method': 'GET'}}}\n"
        "    r = dashboard_page.lambda_handler(event, None)\n"
        "    out[path] = [r['statusCode'], len(r['body'])]\n"
        "sys.stderr.write(json.dumps(out))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(root),
        "WEBSOCKET_URL": WSS_URL,
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [sys.executable, "-c", check],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stderr)
    assert served["/"][0] == 200 and served["/"][1] > 1000
    assert served["/app.js"] == [200, len((STATIC / "app.js").read_text(encoding="utf-8"))]
    assert served["/style.css"] == [200, len((STATIC / "style.css").read_text(encoding="utf-8"))]
    chart = (STATIC / "vendor" / "uPlot.iife.min.js").read_text(encoding="utf-8")
    assert served["/vendor/uPlot.iife.min.js"] == [200, len(chart)]
    assert served["/x"][0] == 404
