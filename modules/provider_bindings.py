"""Load only the AWS provider bindings the stacks use, on both sides of jsii.

``cdktf-cdktf-provider-aws`` 20.1.0 loads all 2,135 of its service modules when it is
imported, twice: its Python ``__init__`` imports every submodule (about 16 s here), and the
jsii kernel (node) ``require``s every module of ``@cdktf/provider-aws`` (about 3.3 s, 247 MB
of JavaScript). The stacks use about fifty. :func:`install` makes both lazy:

* Python: an empty package object with the real ``__path__`` stands in ``sys.modules`` for
  ``cdktf_cdktf_provider_aws``; a service module (and, with the first one, the package's
  ``_jsii`` assembly) is imported when a stack imports it.
* Node: the kernel starts with ``--require provider_bindings_lazy_index.js`` (in
  ``NODE_OPTIONS``), which turns the package index's ``exports.x = require("./x")`` lines
  into getters, so only the modules the synth touches are compiled.

Both depend on the package's layout, checked for :data:`VERIFIED_VERSION`. Another version
is loaded the ordinary, eager way with a warning. ``tests/stacks/test_provider_bindings.py``
synthesizes the app both ways and compares every file byte for byte, so a version bump
that breaks the lazy path fails loudly.

Call :func:`install` before the first ``import cdktf`` (that import starts the kernel).
Importing ``modules`` (so also ``stacks``) calls it; it is cheap and starts nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Final

PACKAGE: Final = "cdktf_cdktf_provider_aws"
DISTRIBUTION: Final = "cdktf-cdktf-provider-aws"
VERIFIED_VERSION: Final = "20.1.0"
NODE_HOOK: Final = Path(__file__).with_name("provider_bindings_lazy_index.js")


def _kernel_started() -> bool:
    # Importing constructs or cdktf loads their assemblies, which starts the node kernel.
    return "constructs._jsii" in sys.modules or "cdktf._jsii" in sys.modules


def _installed_version() -> str | None:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return None


def is_lazy() -> bool:
    """True when the provider package in ``sys.modules`` is the lazy stand-in."""
    package = sys.modules.get(PACKAGE)
    return package is not None and getattr(package, "__lazy_provider_bindings__", False)


def _install_node_hook() -> None:
    hook = f'--require "{NODE_HOOK}"'
    options = os.environ.get("NODE_OPTIONS", "")
    if hook not in options:
        os.environ["NODE_OPTIONS"] = f"{options} {hook}".strip()


def _install_python_package() -> None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed (see requirements.txt)")
    package = types.ModuleType(PACKAGE, "AWS provider bindings, loaded lazily")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    package.__package__ = PACKAGE
    package.__lazy_provider_bindings__ = True  # type: ignore[attr-defined]
    # Each service module imports the package's _jsii module (the assembly) itself.
    sys.modules[PACKAGE] = package


def install() -> None:
    """Make the provider bindings lazy (idempotent; see the module docstring)."""
    if PACKAGE in sys.modules:
        return  # already lazy, or already imported the eager way: nothing left to save
    found = _installed_version()
    if found is None:
        return  # not installed here (handler-only environments): nothing to load
    if found != VERIFIED_VERSION:
        warnings.warn(
            f"{DISTRIBUTION} {found} is installed; the lazy loading in {__name__} was "
            f"verified for {VERIFIED_VERSION} only, so the bindings load eagerly (slow synth). "
            "Run tests/stacks/test_provider_bindings.py, then update VERIFIED_VERSION.",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    if _kernel_started():
        warnings.warn(
            "the jsii kernel started before the provider bindings were installed "
            f"(import {__name__} before cdktf): node loads every provider module",
            RuntimeWarning,
            stacklevel=2,
        )
    else:
        _install_node_hook()
    _install_python_package()
