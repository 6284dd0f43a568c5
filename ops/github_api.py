"""The few GitHub REST calls CI makes, over urllib (no client library in the CI image).

The base URL comes from ``GITHUB_API_URL`` (set by Actions; GitHub Enterprise differs), so
tests point it at a local stand-in server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_API_URL = "https://api.github.com"
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubError(RuntimeError):
    """A GitHub API call failed, or its input is unusable; the message says which."""


def env_setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise GitHubError(f"{name} is not set (Actions sets it; elsewhere export it)")
    return value


@dataclass(frozen=True)
class GitHub:
    token: str
    repository: str
    api_url: str = DEFAULT_API_URL
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.token:
            raise GitHubError("empty GitHub token")
        if not REPOSITORY.match(self.repository):
            raise GitHubError(f"repository {self.repository!r} is not of the form owner/name")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GitHub:
        source = os.environ if environ is None else environ
        return cls(
            token=env_setting("GITHUB_TOKEN", source),
            repository=env_setting("GITHUB_REPOSITORY", source),
            api_url=source.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL,
        )

    def url(self, path: str) -> str:
        return f"{self.api_url.rstrip('/')}/repos/{self.repository}/{path.lstrip('/')}"

    def request(self, method: str, url: str, body: Any = None) -> tuple[Any, str]:
        """JSON of the response and its Link header; a non-2xx answer raises GitHubError."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "acme-telemetry-ci")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                link = response.headers.get("Link", "")
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:500]
            # GitHub explains a refusal in {"message": ...}; a proxy may answer HTML.
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise GitHubError(f"{method} {url} -> HTTP {error.code}: {detail}") from None
        except urllib.error.URLError as error:
            raise GitHubError(f"{method} {url} failed: {error.reason}") from None
        return (json.loads(raw) if raw else None), link

    def paginate(self, path: str, key: str | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following the Link header's next pages. ``key``:
        the field holding the list, for endpoints that wrap it (``{"artifacts": [...]}``)."""
        url: str | None = self.url(path)
        while url:
            page, link = self.request("GET", url)
            if key is not None and isinstance(page, dict):
                page = page.get(key)
            if not isinstance(page, list):
                raise GitHubError(f"GET {url}: expected a JSON list, got {type(page).__name__}")
            yield from page
            found = _NEXT_LINK.search(link)
            url = found.group(1) if found else None
