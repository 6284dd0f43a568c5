"""CreateFunction retried after a lost response answers as the first call did.

Written for moto 5.2.5 (``moto.awslambda``); :func:`install` checks the installed version.

Seen in ``make deploy-local`` under load (2 of 6 deploys on 2026-12-02, with the provider's
debug log): the server created the function and answered 201, the AWS SDK's first attempt
still ended in a transport error (no response logged), and the SDK's retry got moto's 409
``Function already exist``. The provider then retries ResourceConflictException for five
minutes and fails the apply. The cause sits between werkzeug's loopback server and Go's
HTTP client and is not found yet; AWS itself would answer the retry with the same 409.

So a CreateFunction whose request body is byte-for-byte the one that created the function
within the last :data:`RETRY_WINDOW_SECONDS` answers that creation's 201 again. Any other
CreateFunction of an existing function (another body, or later) is still the 409.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from moto.awslambda.exceptions import FunctionAlreadyExists
from moto.awslambda.responses import LambdaResponse

from ._compat import check_moto_version, patch_attribute

__all__ = ["RETRY_WINDOW_SECONDS", "install"]

RETRY_WINDOW_SECONDS: Final = 60.0

_installed = False


class _Creations:
    """The last successful CreateFunction of each function: its body's digest and answer."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str, str], tuple[str, float, Any]] = {}

    def remember(self, key: tuple[str, str, str], digest: str, answer: Any) -> None:
        with self._lock:
            self._answers[key] = (digest, self._clock(), answer)

    def replay(self, key: tuple[str, str, str], digest: str) -> Any | None:
        with self._lock:
            found = self._answers.get(key)
        if found is None:
            return None
        known, at, answer = found
        if known != digest or self._clock() - at > RETRY_WINDOW_SECONDS:
            return None
        return answer


creations = _Creations()


def _body_digest(body: Any) -> str:
    raw = body if isinstance(body, bytes) else str(body).encode()
    return hashlib.sha256(raw).hexdigest()


def install() -> None:
    global _installed
    if _installed:
        return
    check_moto_version(__name__)
    create = LambdaResponse.create_function

    def create_function(response: LambdaResponse) -> Any:
        name = str(response.json_body.get("FunctionName", "")).rsplit(":", 1)[-1]
        key = (response.current_account, response.region, name)
        digest = _body_digest(response.body)
        try:
            answer = create(response)
        except FunctionAlreadyExists:
            replayed = creations.replay(key, digest)
            if replayed is None:
                raise
            return replayed
        creations.remember(key, digest, answer)
        return answer

    patch_attribute(LambdaResponse, "create_function", create_function)
    _installed = True
