"""Post the plan summary as one pull-request comment, updated in place on every push.

    python -m ops.pr_comment --summary build/plan/summary.md --pr 12 --head-sha SHA \\
        --artifact plan-pr12-SHA --run-url URL                  # make pr-comment

Reads GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL from the environment. The comment
starts with a hidden HTML marker: the next run finds it by that marker and PATCHes it, so a
pull request carries one plan comment, never one per push. Standard library only, so the
comment job needs no virtual environment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .github_api import GitHub, GitHubError

MARKER = "<!-- acme-telemetry:plan-summary -->"
# GitHub refuses a comment body over 65,536 characters.
MAX_BODY = 65_536


def github_length(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units (an emoji counts twice), so a body
    measured this way is never over the limit whichever way GitHub counts."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Context:
    head_sha: str
    artifact: str
    run_url: str
    environment: str = ""


def render(summary: str, context: Context, limit: int = MAX_BODY) -> str:
    """The comment body: marker, one line of provenance, the summary (cut to fit if needed)."""
    where = f" for environment `{context.environment}`" if context.environment else ""
    head = (
        f"{MARKER}\n"
        f"Plan of `{context.head_sha[:12]}`{where} ([workflow run]({context.run_url}), "
        f"artifact `{context.artifact}`). Updated on every push.\n\n"
    )
    body = head + summary.rstrip("\n") + "\n"
    if github_length(body) <= limit:
        return body
    note = (
        "\n---\n**Truncated:** the summary is longer than a GitHub comment allows "
        f"({limit:,} characters). The full `summary.md` is in the artifact "
        f"`{context.artifact}` of [the workflow run]({context.run_url}).\n"
    )
    budget = limit - github_length(head) - github_length(note)
    if budget <= 0:
        raise ValueError(f"comment limit {limit} leaves no room for the summary")
    kept: list[str] = []
    used = 0
    # Whole lines only: a cut inside a line could split a table row or a code span.
    for line in summary.splitlines(keepends=True):
        size = github_length(line)
        if used + size > budget:
            break
        kept.append(line)
        used += size
    return head + "".join(kept) + note


def render_failure(result: str, context: Context) -> str:
    """The body when this push has no plan: replaces the last one, which is no longer it."""
    where = f" for environment `{context.environment}`" if context.environment else ""
    return (
        f"{MARKER}\n"
        f"**No plan** of `{context.head_sha[:12]}`{where}: the plan job ended `{result}` "
        f"([workflow run]({context.run_url})). The plan of an earlier push was removed from "
        "this comment so it is not taken for this one; fix the run, or push again.\n"
    )


def find_comment(github: GitHub, pr: int) -> int | None:
    """The id of this tool's earlier comment on the pull request, if any."""
    for comment in github.paginate(f"issues/{pr}/comments?per_page=100"):
        # The marker opens the body: a reply quoting the comment starts with ">", not it.
        if str(comment.get("body") or "").startswith(MARKER):
            return int(comment["id"])
    return None


def upsert(github: GitHub, pr: int, body: str) -> tuple[str, int]:
    """Update the earlier comment, or create the first one. Returns (action, comment id)."""
    existing = find_comment(github, pr)
    if existing is not None:
        github.request("PATCH", github.url(f"issues/comments/{existing}"), {"body": body})
        return "updated", existing
    created, _ = github.request("POST", github.url(f"issues/{pr}/comments"), {"body": body})
    return "created", int(created["id"])


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a pull-request number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a pull-request number")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", type=Path, required=True)
    parser.add_argument("--pr", type=positive_int, required=True)
    parser.add_argument("--head-sha", required=True)
    parser.add_argument("--artifact", required=True)
    parser.add_argument("--run-url", required=True)
    parser.add_argument("--environment", default="")
    parser.add_argument(
        "--plan-result",
        default="success",
        help="the plan job's result; anything but success posts that no plan exists",
    )
    args = parser.parse_args(argv)
    context = Context(args.head_sha, args.artifact, args.run_url, args.environment)
    if args.plan_result == "success":
        try:
            body = render(args.summary.read_text(encoding="utf-8"), context)
        except OSError as error:
            print(
                f"error: cannot read the plan summary {args.summary}: {error.strerror}; "
                "did `make plan` succeed?",
                file=sys.stderr,
            )
            return 1
    else:
        body = render_failure(args.plan_result, context)
    try:
        action, comment_id = upsert(GitHub.from_env(), args.pr, body)
    except GitHubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{action} plan comment {comment_id} on pull request #{args.pr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
