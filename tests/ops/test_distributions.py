"""README's distributions table is what `make distributions` prints today."""

from __future__ import annotations

import pytest

from ops import distributions
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def table() -> str:
    return distributions.table(distributions.measure())


def test_readme_section_equals_the_commands_output(table: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert distributions.section_of(readme) == table, "run `make distributions`"


def test_every_distribution_has_a_reason_and_every_seed_value_a_row(table: str) -> None:
    for distribution in distributions.DISTRIBUTIONS:
        assert distribution.why.strip()
        assert f"| `{distribution.name}` |" in table
        for value in distribution.seeds:
            assert f"| {value} |" in table
        assert sum(distribution.seeds.values()) == pytest.approx(1.0)


def test_the_section_is_replaced_between_its_markers() -> None:
    begin, end = distributions.BEGIN, distributions.END
    document = f"a\n{begin}\nold\n{end}\nb\n"
    replaced = distributions.replace_section(document, "new\n")
    assert replaced == f"a\n{begin}\nnew\n{end}\nb\n"
    assert distributions.section_of(replaced) == "new\n"
    with pytest.raises(ValueError, match="exactly one"):
        distributions.replace_section("no markers", "x")


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str], table: str) -> None:
    assert distributions.main([]) == 0
    assert capsys.readouterr().out == table
