"""ops.pr_comment: one plan comment per pull request, updated in place, cut to fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.github_api import GitHub, GitHubError
from ops.pr_comment import (
    MARKER,
    MAX_BODY,
    Context,
    github_length,
    main,
    render,
    render_failure,
    upsert,
)
from tests.support.github_api import REPO, TOKEN, FakeGitHub, fake_github

CONTEXT = Context("a" * 40, "plan-pr7-" + "a" * 40, "https://example.invalid/run/1", "dev")


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    with fake_github() as state:
        yield state


@pytest.fixture
def env(server: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    return server


def client(server: FakeGitHub) -> GitHub:
    return GitHub(TOKEN, REPO, server.url)


def test_body_opens_with_the_marker_and_names_commit_run_and_artifact() -> None:
    body = render("# Terraform plan summary\n\nNo changes.\n", CONTEXT)
    assert body.startswith(MARKER + "\n")
    assert "`aaaaaaaaaaaa`" in body and CONTEXT.artifact in body and CONTEXT.run_url in body
    assert body.endswith("No changes.\n")


def test_a_long_summary_is_cut_on_a_line_to_the_limit_with_a_note() -> None:
    summary = "".join(f"- add: `aws_s3_object.o[{i}]`\n" for i in range(10_000))
    body = render(summary, CONTEXT)
    assert github_length(body) <= MAX_BODY
    assert "**Truncated:**" in body and CONTEXT.artifact in body
    kept = body.split("\n\n", 1)[1].split("\n---\n")[0]
    assert kept and all(line.startswith("- add: `") for line in kept.splitlines())
    assert github_length(body) > MAX_BODY - 200  # nearly all the room used


def test_the_limit_counts_emoji_twice() -> None:
    summary = "\U0001f525" * 40_000  # 40,000 characters, 80,000 UTF-16 units
    body = render(summary + "\nlast\n", CONTEXT, limit=1_000)
    assert github_length(body) <= 1_000
    assert "\U0001f525" not in body  # the one long line does not fit whole: dropped


def test_first_run_creates_the_comment_later_runs_patch_it(server: FakeGitHub) -> None:
    server.add_comment(7, "LGTM")
    action, first = upsert(client(server), 7, render("first", CONTEXT))
    assert action == "created"
    action, second = upsert(client(server), 7, render("second", CONTEXT))
    assert (action, second) == ("updated", first)
    bodies = [c["body"] for c in server.comments[7]]
    assert len(bodies) == 2 and bodies[0] == "LGTM" and bodies[1].endswith("second\n")
    assert [m for m, _, _ in server.requests] == ["GET", "POST", "GET", "PATCH"]


def test_the_marker_is_found_past_the_first_page(server: FakeGitHub) -> None:
    for i in range(150):
        server.add_comment(7, f"comment {i}")
    mine = server.add_comment(7, render("old", CONTEXT))
    assert upsert(client(server), 7, render("new", CONTEXT)) == ("updated", mine)
    assert len(server.comments[7]) == 151


def test_a_reply_quoting_the_marker_is_not_taken_for_the_comment(server: FakeGitHub) -> None:
    server.add_comment(7, "> " + MARKER + "\n> why replace this?")
    assert upsert(client(server), 7, render("x", CONTEXT))[0] == "created"


def test_main_reads_the_environment_and_reports(env: FakeGitHub, tmp_path: Path, capsys) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# Terraform plan summary\n", encoding="utf-8")
    args = ["--summary", str(summary), "--pr", "7", "--head-sha", "a" * 40]
    args += ["--artifact", CONTEXT.artifact, "--run-url", CONTEXT.run_url]
    assert main(args) == 0
    assert main(args) == 0
    assert "updated plan comment" in capsys.readouterr().out
    assert len(env.comments[7]) == 1


def test_missing_summary_says_so(env: FakeGitHub, tmp_path: Path, capsys) -> None:
    args = ["--summary", str(tmp_path / "nope.md"), "--pr", "7", "--head-sha", "a" * 40]
    assert main([*args, "--artifact", "x", "--run-url", "u"]) == 1
    assert "cannot read the plan summary" in capsys.readouterr().err


def test_a_refusal_by_github_names_status_and_message(env: FakeGitHub, tmp_path: Path, capsys):
    env.fail_with = 403
    summary = tmp_path / "summary.md"
    summary.write_text("x", encoding="utf-8")
    args = ["--summary", str(summary), "--pr", "7", "--head-sha", "a" * 40]
    assert main([*args, "--artifact", "x", "--run-url", "u"]) == 1
    assert "HTTP 403: Resource not accessible" in capsys.readouterr().err


def test_bad_input_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(GitHubError, match="GITHUB_TOKEN is not set"):
        GitHub.from_env()
    with pytest.raises(GitHubError, match="not of the form owner/name"):
        GitHub(TOKEN, "no-slash")
    with pytest.raises(SystemExit):
        main(
            ["--summary", "s", "--pr", "0", "--head-sha", "x", "--artifact", "a", "--run-url", "u"]
        )


def test_a_failed_plan_replaces_the_earlier_plan_in_the_comment(env: FakeGitHub, tmp_path: Path):
    summary = tmp_path / "summary.md"
    summary.write_text("- add: `aws_s3_bucket.lake`\n", encoding="utf-8")
    args = ["--summary", str(summary), "--pr", "7", "--head-sha", "b" * 40]
    args += ["--artifact", "x", "--run-url", "https://example.invalid/run/2"]
    assert main(args) == 0
    (summary).unlink()  # a failed plan leaves none
    assert main([*args, "--plan-result", "failure"]) == 0
    [comment] = env.comments[7]
    assert comment["body"] == render_failure("failure", Context("b" * 40, "x", args[-1]))
    assert "**No plan**" in comment["body"] and "aws_s3_bucket" not in comment["body"]
