"""The lazy provider bindings (modules/provider_bindings.py) change speed, never output.

The app is synthesized twice in fresh interpreters: the ordinary way (``main.py``, lazy) and
with the provider package imported in full first (eager, as cdktf loads it on its own). Every
file of the two outputs must be identical, byte for byte. A version bump of the bindings
that breaks the lazy path fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# Runs main.py in-process, then counts the provider's service modules that were imported.
SYNTH = """
import runpy, sys
runpy.run_path("main.py", run_name="__main__")
loaded = {m.split(".")[1] for m in sys.modules if m.startswith("cdktf_cdktf_provider_aws.")}
print("provider-modules", len(loaded - {"_jsii"}))
"""


def synthesize(outdir: Path, prelude: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", prelude + SYNTH],
        cwd=ROOT,
        env={**os.environ, "CDKTF_OUTDIR": str(outdir), "ACME_ENV": "dev"},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return int(result.stdout.split("provider-modules")[-1])


def files(outdir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(outdir)): path.read_bytes()
        for path in sorted(outdir.rglob("*"))
        if path.is_file()
    }


def test_lazy_synth_is_byte_identical_to_the_eager_one(tmp_path: Path) -> None:
    lazy_modules = synthesize(tmp_path / "lazy", prelude="")
    eager_modules = synthesize(tmp_path / "eager", prelude="import cdktf_cdktf_provider_aws")

    lazy, eager = files(tmp_path / "lazy"), files(tmp_path / "eager")
    assert sorted(lazy) == sorted(eager)
    assert any(name.endswith("cdk.tf.json") for name in lazy)
    different = [name for name in lazy if lazy[name] != eager[name]]
    assert different == [], f"lazy and eager synth differ in {different}"
    # The lazy path really was taken: a few dozen service modules, not all 2,135.
    assert lazy_modules < 100 < 2000 < eager_modules
