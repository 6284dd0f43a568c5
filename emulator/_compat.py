"""Guard for the moto version the extensions were written against.

Every extension module in this package patches moto internals (backend classes, response
handlers, URL maps). Those internals change between moto releases without notice, so each
module checks, when it is installed, that the installed moto is the release it was written
for (moto 5.2.5) and fails clearly otherwise.

Set ``EMULATOR_ALLOW_MOTO_MISMATCH=1`` to turn the failure into a warning, for instance
while trying out a newer moto; then re-run tests/emulator before relying on the result.
"""

from __future__ import annotations

import os
import warnings
from importlib.metadata import PackageNotFoundError, version

WRITTEN_FOR_MOTO = "5.2.5"
ALLOW_MISMATCH_ENV = "EMULATOR_ALLOW_MOTO_MISMATCH"


class MotoVersionMismatch(RuntimeError):
    """The installed moto is not the release the emulator extensions were written for."""


def installed_moto_version() -> str:
    try:
        return version("moto")
    except PackageNotFoundError:  # pragma: no cover - moto is a hard dependency
        return "not installed"


def check_moto_version(module: str, expected: str = WRITTEN_FOR_MOTO) -> None:
    """Fail (or, with the override set, warn) when the installed moto is not ``expected``."""
    found = installed_moto_version()
    if found == expected:
        return
    message = (
        f"{module} patches moto internals and was written for moto {expected}, "
        f"but moto {found} is installed. Re-check the patches against the new moto "
        f"(run tests/emulator) and update WRITTEN_FOR_MOTO, or set "
        f"{ALLOW_MISMATCH_ENV}=1 to continue anyway."
    )
    if os.environ.get(ALLOW_MISMATCH_ENV) == "1":
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return
    raise MotoVersionMismatch(message)


def patch_attribute(owner: object, name: str, value: object) -> None:
    """Replace ``owner.name`` (a moto class attribute); it must exist already."""
    if not hasattr(owner, name):
        raise AttributeError(f"{owner!r} has no attribute {name!r} to patch: moto changed?")
    setattr(owner, name, value)
