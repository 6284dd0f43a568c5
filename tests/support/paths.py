"""Repository paths, computed from this file's location (never hard-coded)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLERS_DIR = REPO_ROOT / "handlers"
COMMON_DIR = HANDLERS_DIR / "common"
CONTRACT_PATH = REPO_ROOT / "contracts" / "telemetry_event.json"


def handler_folders() -> list[Path]:
    """Every handlers/<function>/ folder (the ones with a bundle.json)."""
    return sorted(p for p in HANDLERS_DIR.iterdir() if (p / "bundle.json").is_file())
