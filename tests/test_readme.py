"""The README documents the outputs contract exactly as the stacks declare it."""

from __future__ import annotations

import re

from stacks.outputs import ALL_CONTRACTS
from tests.conftest import ROOT


def test_readme_outputs_table_matches_the_declared_contract() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z-]+)` \| `([a-z_]+)` \| (.+?) \|$", readme, re.MULTILINE))
    declared = {
        (contract.stack_name, output.name, output.description)
        for contract in ALL_CONTRACTS
        for output in contract.outputs()
    }
    assert rows == declared


def test_readme_leads_with_deploy_local_and_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make deploy-local", "make test"]
