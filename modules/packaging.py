"""Reproducible Lambda zip packages built from ``handlers/<function>/``.

Pure Python (no cdktf import), so it stays fast to import; ``modules.lambda_package`` wraps it
in a construct and ``python -m modules.packaging build`` runs it from the Makefile.

Handler layout (the agreed contract)::

    handlers/<function>/bundle.json       {"handler": "mod.func", "common": [...], "contract": true}
    handlers/<function>/requirements.txt  exact pins (name==version) of the third-party closure
    handlers/<function>/*.py ...          the function's own modules
    handlers/common/<file>                shared files, copied when listed in "common"

The zip is flat: the function's own files, the listed common files, the contract (as
``telemetry_event.json``) and the installed third-party packages all sit at its root.

Reproducibility rules (the zip's bytes depend only on the inputs, never on the machine, the
checkout, file mtimes, modes or the umask):

* entries sorted by POSIX arcname; no directory entries; no extra fields; no comment;
* every entry has date_time 1980-01-01 00:00:00, create_system 3 (Unix) and is
  ZIP_DEFLATED at level 9;
* modes: 0o644 for every file, except files of installed packages that pip marked executable
  (pip sets the executable bit only from the wheel's own metadata, never from the umask):
  those keep 0o755, so a binary shipped in a wheel can still be run with subprocess.
  The project's own files are always 0o644 whatever their mode in the checkout;
* excluded: ``__pycache__``, ``*.pyc``/``*.pyo``, hidden files and folders, ``tests``/``test``
  folders, ``test_*.py``, ``conftest.py``, and the function's ``bundle.json`` and
  ``requirements.txt``;
* pip's ``bin/`` (console scripts whose shebang is the build machine's interpreter path) is
  dropped, and each ``*.dist-info/RECORD`` is rewritten to list only the files in the zip.

pip runs isolated from this machine's pip configuration (``PIP_CONFIG_FILE`` set to the null
device and every resolution-affecting ``PIP_*`` variable removed: global constraints, extra
indexes and find-links would otherwise change, or break, what gets installed). Wheels come from
PyPI, or, offline, only from a wheel folder (``--no-index --find-links``).

The output is cached: ``<build_dir>/<function>-<content key>.zip``, where the content key hashes
everything that goes into the zip except the third-party files themselves (which are fixed by
the exact pins). An existing file with that name is reused without running pip.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import logging
import os
import posixpath
import re
import shlex
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = [
    "ARCHITECTURES",
    "CONTRACT_ARCNAME",
    "DEFAULT_BUILD_DIR",
    "DEFAULT_CONTRACT_PATH",
    "DEFAULT_HANDLERS_ROOT",
    "FORMAT_VERSION",
    "LAMBDA_MAX_UNZIPPED_BYTES",
    "LAMBDA_MAX_ZIP_BYTES",
    "PYTHON_VERSIONS",
    "WHEEL_DIR_ENV",
    "BuiltPackage",
    "BundleManifest",
    "PackagePlan",
    "PackageSpec",
    "PackagingError",
    "PinnedRequirement",
    "SpecError",
    "ZipEntry",
    "build_package",
    "discover_functions",
    "download_command",
    "download_wheels",
    "main",
    "pip_environment",
    "pip_platform_tags",
    "plan_package",
    "resolve_wheel_dir",
    "source_code_hash",
    "write_reproducible_zip",
]

logger = logging.getLogger(__name__)

# Bump whenever a change here can change the bytes of a zip built from the same inputs: it is
# part of every content key, so old cached zips are then rebuilt instead of reused.
FORMAT_VERSION: Final = "1"

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_HANDLERS_ROOT: Final = REPO_ROOT / "handlers"
DEFAULT_CONTRACT_PATH: Final = REPO_ROOT / "contracts" / "telemetry_event.json"
DEFAULT_BUILD_DIR: Final = REPO_ROOT / "build" / "lambda"

WHEEL_DIR_ENV: Final = "ACME_WHEEL_DIR"
PYPI_INDEX_URL: Final = "https://pypi.org/simple"

BUNDLE_FILE: Final = "bundle.json"
REQUIREMENTS_FILE: Final = "requirements.txt"
COMMON_DIR: Final = "common"
CONTRACT_ARCNAME: Final = "telemetry_event.json"

# Lambda architecture name -> machine name used in manylinux platform tags.
ARCHITECTURES: Final[Mapping[str, str]] = {"arm64": "aarch64", "x86_64": "x86_64"}

# Lambda Python runtime -> glibc of its Amazon Linux (python3.10/3.11: AL2, 2.26;
# python3.12 and later: AL2023, 2.34). Wheels are chosen as pip on that system would choose.
PYTHON_VERSIONS: Final[Mapping[str, tuple[int, int]]] = {
    "3.10": (2, 26),
    "3.11": (2, 26),
    "3.12": (2, 34),
    "3.13": (2, 34),
    "3.14": (2, 34),
}

ZIP_DATE_TIME: Final = (1980, 1, 1, 0, 0, 0)
ZIP_CREATE_SYSTEM: Final = 3  # Unix: unzip and Lambda honour the permission bits.
ZIP_COMPRESSION: Final = zipfile.ZIP_DEFLATED
ZIP_COMPRESSLEVEL: Final = 9
# Lambda quotas: a zip uploaded directly (aws_lambda_function.filename) may be 50 MB, and
# the unzipped code 250 MB. A package over either cannot deploy, so the build fails early.
LAMBDA_MAX_ZIP_BYTES: Final = 50 * 1024 * 1024
LAMBDA_MAX_UNZIPPED_BYTES: Final = 250 * 1024 * 1024

FILE_MODE: Final = 0o644
EXECUTABLE_MODE: Final = 0o755

_FUNCTION_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HANDLER_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")
_COMMON_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PIN_RE: Final = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)$"
)
_HASH_OPTION_RE: Final = re.compile(r"--hash(?:=|\s+)(?P<value>\S+)")
_COMMENT_RE: Final = re.compile(r"(^|\s+)#.*$")
_BUNDLE_KEYS: Final = frozenset({"handler", "common", "contract"})

# PIP_* variables kept for pip: they change how pip reaches the index, never what it installs.
# Every other PIP_* variable (PIP_CONSTRAINT, PIP_FIND_LINKS, PIP_INDEX_URL, PIP_NO_INDEX, ...)
# is removed, and PIP_CONFIG_FILE is set to the null device so no pip.conf is read.
PIP_TRANSPORT_VARIABLES: Final = frozenset(
    {
        "PIP_CERT",
        "PIP_CLIENT_CERT",
        "PIP_PROXY",
        "PIP_DEFAULT_TIMEOUT",
        "PIP_TIMEOUT",
        "PIP_RETRIES",
        "PIP_CACHE_DIR",
        "PIP_NO_CACHE_DIR",
    }
)

_EXCLUDED_DIR_NAMES: Final = frozenset({"__pycache__", "tests", "test"})
_EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo")


class PackagingError(Exception):
    """A Lambda package could not be built; the message says why and how to fix it."""


class SpecError(PackagingError, ValueError):
    """A spec field has a bad value; the message names the field."""


# --------------------------------------------------------------------------------------------
# Spec and results


def _coerce_path(owner: str, name: str, value: object, *, optional: bool) -> Path | None:
    if value is None:
        if optional:
            return None
        raise SpecError(f"{owner}.{name} is required (a path), got None")
    if isinstance(value, str) and not value:
        raise SpecError(f"{owner}.{name} must not be an empty path")
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise SpecError(f"{owner}.{name} must be a path (str or os.PathLike), got {value!r}")


def check_function_name(owner: str, name: str, value: object) -> str:
    """Validate a function (handler folder) name; the error names ``owner.name``."""
    if not isinstance(value, str) or not _FUNCTION_NAME_RE.match(value):
        raise SpecError(
            f"{owner}.{name} must be a handler folder name (letters, digits, '-' and '_', "
            f"at most 64 characters, no path separators), got {value!r}"
        )
    if value == COMMON_DIR:
        raise SpecError(f"{owner}.{name}: {COMMON_DIR!r} holds shared files, not a function")
    return value


def check_python_version(owner: str, name: str, value: object) -> str:
    """Validate a Lambda Python version such as "3.13"; the error names ``owner.name``."""
    if not isinstance(value, str) or value not in PYTHON_VERSIONS:
        raise SpecError(
            f"{owner}.{name} must be one of the Lambda Python runtimes "
            f'{", ".join(PYTHON_VERSIONS)} (as "3.13"), got {value!r}'
        )
    return value


def check_architecture(owner: str, name: str, value: object) -> str:
    """Validate a Lambda architecture ("arm64" or "x86_64"); the error names ``owner.name``."""
    if not isinstance(value, str) or value not in ARCHITECTURES:
        raise SpecError(
            f"{owner}.{name} must be one of the Lambda architectures "
            f"{', '.join(ARCHITECTURES)}, got {value!r}"
        )
    return value


def check_path(owner: str, name: str, value: object) -> Path:
    """Validate a required path field; the error names ``owner.name``."""
    path = _coerce_path(owner, name, value, optional=False)
    assert path is not None
    return path


def check_optional_path(owner: str, name: str, value: object) -> Path | None:
    """Validate an optional path field; the error names ``owner.name``."""
    return _coerce_path(owner, name, value, optional=True)


_PACKAGE_FIELD_CHECKS: dict[str, Callable[[str, str, object], object]] = {
    "function": check_function_name,
    "handlers_root": check_path,
    "build_dir": check_path,
    "contract_path": check_optional_path,
    "python_version": check_python_version,
    "architecture": check_architecture,
    "wheel_dir": check_optional_path,
}


def validate_package_fields(instance: object) -> None:
    """Validate and normalize, in place, the fields every package description shares.

    For frozen dataclasses with those fields (PackageSpec, the construct's props); the
    error names the instance's class and the field.
    """
    owner = type(instance).__name__
    for name, check in _PACKAGE_FIELD_CHECKS.items():
        object.__setattr__(instance, name, check(owner, name, getattr(instance, name)))


@dataclass(frozen=True, kw_only=True)
class PackageSpec:
    """What to build: one function of a handler tree, for one Lambda runtime and architecture.

    Paths may be relative (to the current directory) or absolute; none of them reaches the
    zip, its content key or its hash. ``wheel_dir`` (or, when it is None, the environment
    variable ACME_WHEEL_DIR) switches pip to offline mode: wheels only from that folder.
    """

    handlers_root: Path
    function: str
    build_dir: Path
    contract_path: Path | None = None
    python_version: str = "3.13"
    architecture: str = "arm64"
    wheel_dir: Path | None = None

    def __post_init__(self) -> None:
        validate_package_fields(self)

    @property
    def function_dir(self) -> Path:
        return self.handlers_root / self.function

    @property
    def requirements_path(self) -> Path:
        return self.function_dir / REQUIREMENTS_FILE

    @property
    def runtime(self) -> str:
        """The aws_lambda_function runtime this package is built for, e.g. "python3.13"."""
        return f"python{self.python_version}"

    @property
    def platform_tags(self) -> tuple[str, ...]:
        return pip_platform_tags(self.python_version, self.architecture)


@dataclass(frozen=True)
class BundleManifest:
    """The parsed ``bundle.json`` of a function."""

    handler: str
    common: tuple[str, ...] = ()
    contract: bool = False

    def canonical_json(self) -> bytes:
        data = {"handler": self.handler, "common": list(self.common), "contract": self.contract}
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class PinnedRequirement:
    """One ``name==version`` line of a function's requirements.txt."""

    name: str  # normalized (PEP 503)
    version: str
    hashes: tuple[str, ...] = ()
    line: str = ""  # as written, for messages

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    def canonical(self) -> str:
        return " ".join([self.pin, *(f"--hash={h}" for h in sorted(self.hashes))])


@dataclass(frozen=True)
class ZipEntry:
    """One file of the zip: POSIX arcname, content and Unix mode."""

    arcname: str
    data: bytes = field(repr=False)
    mode: int = FILE_MODE


@dataclass(frozen=True)
class PackagePlan:
    """Everything known before pip runs: inputs, content key and the output path."""

    spec: PackageSpec
    manifest: BundleManifest
    requirements: tuple[PinnedRequirement, ...]
    sources: tuple[ZipEntry, ...]
    content_key: str
    zip_path: Path


@dataclass(frozen=True)
class BuiltPackage:
    """A built (or reused) zip and what aws_lambda_function needs from it."""

    function: str
    zip_path: Path
    source_code_hash: str  # base64(sha256(zip bytes)): aws_lambda_function.source_code_hash
    sha256: str  # hex of the same digest
    content_key: str
    handler: str
    runtime: str
    architecture: str
    from_cache: bool


# --------------------------------------------------------------------------------------------
# Small helpers


def source_code_hash(data: bytes) -> str:
    """base64(sha256(data)), the form aws_lambda_function.source_code_hash expects."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def pip_platform_tags(python_version: str, architecture: str) -> tuple[str, ...]:
    """The manylinux platform tags a Lambda runtime accepts, most preferred first.

    pip does not expand ``manylinux_2_X`` tags given with --platform, so every glibc version
    from the runtime's down to the oldest is listed, with the legacy aliases
    (manylinux2014 = 2_17, manylinux2010 = 2_12, manylinux1 = 2_5) where they belong, the same
    order pip itself uses on that system.
    """
    check_python_version("pip_platform_tags", "python_version", python_version)
    check_architecture("pip_platform_tags", "architecture", architecture)
    machine = ARCHITECTURES[architecture]
    glibc_major, glibc_minor = PYTHON_VERSIONS[python_version]
    oldest = 17 if machine == "aarch64" else 5
    aliases = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags: list[str] = []
    for minor in range(glibc_minor, oldest - 1, -1):
        tags.append(f"manylinux_{glibc_major}_{minor}_{machine}")
        if minor in aliases:
            tags.append(f"{aliases[minor]}_{machine}")
    return tuple(tags)


def pip_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment pip runs in: no pip config file, only transport PIP_* variables."""
    source = os.environ if environ is None else environ
    env = {
        key: value
        for key, value in source.items()
        if not key.upper().startswith("PIP_") or key.upper() in PIP_TRANSPORT_VARIABLES
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def resolve_wheel_dir(spec: PackageSpec, environ: Mapping[str, str] | None = None) -> Path | None:
    """spec.wheel_dir, else $ACME_WHEEL_DIR (when set and not empty), else None (online)."""
    if spec.wheel_dir is not None:
        return spec.wheel_dir
    value = (os.environ if environ is None else environ).get(WHEEL_DIR_ENV, "")
    return Path(value) if value else None


def _normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def discover_functions(handlers_root: Path | str) -> tuple[str, ...]:
    """Names of the folders under handlers_root that hold a bundle.json, sorted."""
    root = Path(handlers_root)
    if not root.is_dir():
        raise PackagingError(f"handlers root {root} is not a folder")
    return tuple(
        sorted(
            child.name
            for child in root.iterdir()
            if child.is_dir() and child.name != COMMON_DIR and (child / BUNDLE_FILE).is_file()
        )
    )


# --------------------------------------------------------------------------------------------
# Reading the handler tree


def load_manifest(spec: PackageSpec) -> BundleManifest:
    """Read and validate handlers/<function>/bundle.json."""
    path = spec.function_dir / BUNDLE_FILE
    if not spec.function_dir.is_dir():
        raise PackagingError(
            f"Lambda function {spec.function!r}: folder {spec.function_dir} does not exist "
            f"(functions found: {', '.join(discover_functions(spec.handlers_root)) or 'none'})"
            if spec.handlers_root.is_dir()
            else f"Lambda function {spec.function!r}: handlers root {spec.handlers_root} "
            "does not exist"
        )
    if not path.is_file():
        raise PackagingError(f"Lambda function {spec.function!r}: {path} is missing")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PackagingError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise PackagingError(f"{path}: must hold a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _BUNDLE_KEYS)
    if unknown:
        raise PackagingError(
            f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(_BUNDLE_KEYS))}"
        )
    handler = raw.get("handler")
    if not isinstance(handler, str) or not _HANDLER_RE.match(handler):
        raise PackagingError(
            f'{path}: "handler" must be "module.function" (e.g. "generator.lambda_handler"), '
            f"got {handler!r}"
        )
    common = raw.get("common", [])
    if not isinstance(common, list) or not all(isinstance(c, str) for c in common):
        raise PackagingError(f'{path}: "common" must be a list of file names, got {common!r}')
    for name in common:
        if not _COMMON_NAME_RE.match(name) or name in {".", ".."}:
            raise PackagingError(
                f'{path}: "common" entries are plain file names in {COMMON_DIR}/ '
                f"(no folders), got {name!r}"
            )
    if len(set(common)) != len(common):
        raise PackagingError(f'{path}: "common" lists a file twice: {common!r}')
    contract = raw.get("contract", False)
    if not isinstance(contract, bool):
        raise PackagingError(f'{path}: "contract" must be true or false, got {contract!r}')
    return BundleManifest(handler=handler, common=tuple(common), contract=contract)


def parse_requirements(path: Path) -> tuple[PinnedRequirement, ...]:
    """Parse a requirements.txt that holds only exact pins (optionally with --hash options)."""
    if not path.exists():
        return ()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise PackagingError(f"{path}: not UTF-8 text: {error}") from error
    # Join continuation lines, remembering where each logical line started.
    logical: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw_line.endswith("\\"):
            pending.append(raw_line[:-1])
            continue
        pending.append(raw_line)
        logical.append((start, " ".join(pending)))
        pending = []
    if pending:
        logical.append((start, " ".join(pending)))

    requirements: list[PinnedRequirement] = []
    seen: dict[str, int] = {}
    for number, line in logical:
        content = _COMMENT_RE.sub("", line).strip()
        if not content:
            continue
        where = f"{path}:{number}"
        hashes = tuple(m.group("value") for m in _HASH_OPTION_RE.finditer(content))
        spec_text = _HASH_OPTION_RE.sub("", content).strip()
        if spec_text.startswith("-"):
            raise PackagingError(
                f"{where}: pip options are not allowed in a handler's requirements.txt "
                f"({spec_text!r}); the builder fixes index, links and constraints itself. "
                "List one exact pin per line: name==version"
            )
        if "://" in spec_text or " @ " in spec_text:
            raise PackagingError(
                f"{where}: URL requirements are not allowed ({spec_text!r}); pin a PyPI "
                "release: name==version"
            )
        if ";" in spec_text:
            raise PackagingError(
                f"{where}: environment markers are not allowed ({spec_text!r}): pip evaluates "
                "them against the build machine, not the Lambda runtime. Keep only the pins "
                "the function needs: name==version"
            )
        if "[" in spec_text:
            raise PackagingError(
                f"{where}: extras are not allowed ({spec_text!r}): packages are installed "
                "with --no-deps, so an extra installs nothing. Pin each package of the extra "
                "on its own line: name==version"
            )
        match = _PIN_RE.match(spec_text)
        if not match:
            raise PackagingError(
                f"{where}: {spec_text!r} is not an exact pin; write name==version "
                "(the whole runtime closure, pinned, since pip runs with --no-deps)"
            )
        name = _normalize_name(match.group("name"))
        if name in seen:
            raise PackagingError(f"{where}: {name} is already pinned on line {seen[name]}")
        seen[name] = number
        requirements.append(
            PinnedRequirement(
                name=name, version=match.group("version"), hashes=hashes, line=spec_text
            )
        )
    with_hashes = [r.pin for r in requirements if r.hashes]
    if with_hashes and len(with_hashes) != len(requirements):
        without = [r.pin for r in requirements if not r.hashes]
        raise PackagingError(
            f"{path}: either every pin has --hash options or none has (pip then requires "
            f"hashes for all); missing for: {', '.join(without)}"
        )
    return tuple(requirements)


def _is_excluded(name: str, *, is_dir: bool) -> bool:
    if name.startswith("."):
        return True
    if is_dir:
        return name in _EXCLUDED_DIR_NAMES
    return (
        name.endswith(_EXCLUDED_SUFFIXES)
        or name == "conftest.py"
        or (name.startswith("test_") and name.endswith(".py"))
    )


def _walk_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(POSIX relative path, path) of the files under root that go into a zip, sorted."""
    found: list[tuple[str, Path]] = []
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        kept_dirs = []
        for name in dirnames:
            if _is_excluded(name, is_dir=True):
                continue
            if (here / name).is_symlink():
                raise PackagingError(
                    f"{here / name}: symlinked folders are not supported in a handler folder"
                )
            kept_dirs.append(name)
        dirnames[:] = sorted(kept_dirs)
        for name in filenames:
            if _is_excluded(name, is_dir=False):
                continue
            path = here / name
            if not path.is_file():
                raise PackagingError(f"{path}: not a regular file (broken symlink or special)")
            found.append((path.relative_to(root).as_posix(), path))
    return iter(sorted(found))


def _collect_sources(spec: PackageSpec, manifest: BundleManifest) -> tuple[ZipEntry, ...]:
    entries: dict[str, tuple[ZipEntry, str]] = {}

    def add(arcname: str, data: bytes, origin: str) -> None:
        if arcname in entries:
            raise PackagingError(
                f"Lambda function {spec.function!r}: {arcname!r} would be in the zip twice "
                f"(from {entries[arcname][1]} and from {origin})"
            )
        entries[arcname] = (ZipEntry(arcname, data, FILE_MODE), origin)

    for relative, path in _walk_files(spec.function_dir):
        if relative in {BUNDLE_FILE, REQUIREMENTS_FILE}:
            continue
        add(relative, path.read_bytes(), str(path))

    common_dir = spec.handlers_root / COMMON_DIR
    for name in manifest.common:
        path = common_dir / name
        if not path.is_file():
            raise PackagingError(
                f"{spec.function_dir / BUNDLE_FILE}: common file {name!r} not found "
                f"(looked for {path})"
            )
        add(name, path.read_bytes(), str(path))

    if manifest.contract:
        if spec.contract_path is None:
            raise PackagingError(
                f"{spec.function_dir / BUNDLE_FILE} asks for the contract "
                '("contract": true) but no contract_path was given'
            )
        if not spec.contract_path.is_file():
            raise PackagingError(
                f"Lambda function {spec.function!r}: contract file {spec.contract_path} "
                "does not exist"
            )
        add(CONTRACT_ARCNAME, spec.contract_path.read_bytes(), str(spec.contract_path))

    module = manifest.handler.rsplit(".", 1)[0].replace(".", "/")
    if f"{module}.py" not in entries and f"{module}/__init__.py" not in entries:
        raise PackagingError(
            f"{spec.function_dir / BUNDLE_FILE}: handler {manifest.handler!r} needs "
            f"{module}.py (or {module}/__init__.py) in the zip, but neither is in "
            f"{spec.function_dir} nor in its common files"
        )
    return tuple(entry for _, (entry, _origin) in sorted(entries.items()))


def _content_key(
    spec: PackageSpec,
    manifest: BundleManifest,
    requirements: Sequence[PinnedRequirement],
    sources: Sequence[ZipEntry],
) -> str:
    digest = hashlib.sha256()

    def put(tag: str, data: bytes) -> None:
        digest.update(tag.encode() + b"\0" + len(data).to_bytes(8, "big") + data)

    put("format", FORMAT_VERSION.encode())
    put("function", spec.function.encode())
    put("python", spec.python_version.encode())
    put("architecture", spec.architecture.encode())
    put("platforms", " ".join(spec.platform_tags).encode())
    put("manifest", manifest.canonical_json())
    put("requirements", "\n".join(sorted(r.canonical() for r in requirements)).encode())
    for entry in sources:
        put("path", f"{entry.arcname}\0{entry.mode:o}".encode())
        put("data", entry.data)
    return digest.hexdigest()


def plan_package(spec: PackageSpec) -> PackagePlan:
    """Read and validate a function's inputs and compute its content key; runs no pip."""
    manifest = load_manifest(spec)
    requirements = parse_requirements(spec.requirements_path)
    sources = _collect_sources(spec, manifest)
    key = _content_key(spec, manifest, requirements, sources)
    return PackagePlan(
        spec=spec,
        manifest=manifest,
        requirements=requirements,
        sources=sources,
        content_key=key,
        zip_path=spec.build_dir / f"{spec.function}-{key}.zip",
    )


# --------------------------------------------------------------------------------------------
# pip


def _pip_target_options(spec: PackageSpec) -> list[str]:
    options = [
        "--no-deps",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        spec.python_version,
    ]
    for tag in spec.platform_tags:
        options += ["--platform", tag]
    return options


def download_command(spec: PackageSpec, dest: Path) -> list[str]:
    """The pip command that downloads a function's wheels for offline builds into dest."""
    return [
        sys.executable,
        "-I",  # isolated: no PYTHONPATH or user site can bring in another pip
        "-m",
        "pip",
        "download",
        "--dest",
        str(dest),
        *_pip_target_options(spec),
        "--index-url",
        PYPI_INDEX_URL,
        "-r",
        str(spec.requirements_path),
    ]


def _render_command(command: Sequence[str]) -> str:
    return f"PIP_CONFIG_FILE={os.devnull} {shlex.join(command)}"


def _wheel_names_in(folder: Path) -> set[tuple[str, str]]:
    names: set[tuple[str, str]] = set()
    if folder.is_dir():
        for path in folder.glob("*.whl"):
            parts = path.name[: -len(".whl")].split("-")
            if len(parts) in (5, 6):
                names.add((_normalize_name(parts[0]), parts[1].lower()))
    return names


_PIP_MISSING_RE: Final = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies "
    r"the requirement)\s+(?P<req>[^\s(]+)"
)


def _pip_failure(
    spec: PackageSpec,
    plan: PackagePlan,
    wheel_dir: Path | None,
    output: str,
) -> PackagingError:
    named = {
        _normalize_name(m.group("req").split("==")[0]) for m in _PIP_MISSING_RE.finditer(output)
    }
    if wheel_dir is not None:
        present = _wheel_names_in(wheel_dir)
        named |= {r.name for r in plan.requirements if (r.name, r.version.lower()) not in present}
    missing = [r.pin for r in plan.requirements if r.name in named]
    glibc = ".".join(map(str, PYTHON_VERSIONS[spec.python_version]))
    platforms = (
        f"cp{spec.python_version.replace('.', '')} or abi3/none, "
        f"manylinux glibc <= {glibc}, {ARCHITECTURES[spec.architecture]}"
    )
    download_dir = wheel_dir if wheel_dir is not None else Path("DIR")
    lines = [
        f"Lambda function {spec.function!r}: pip could not install "
        f"{', '.join(missing) if missing else 'its requirements'} "
        f"from {spec.requirements_path} for {spec.runtime} on {spec.architecture} "
        f"(binary wheels only: {platforms}).",
    ]
    shortcut = (
        f"  or: {sys.executable} -m modules.packaging download --handlers-root "
        f"{shlex.quote(str(spec.handlers_root))} --python-version {spec.python_version} "
        f"--architecture {spec.architecture} --wheel-dir {shlex.quote(str(download_dir))} "
        f"{spec.function}"
    )
    if wheel_dir is not None:
        lines += [
            f"Offline mode: pip looked only in the wheel folder {wheel_dir} "
            f"(--wheel-dir / ${WHEEL_DIR_ENV}), and it has no matching wheel for "
            f"{', '.join(missing) if missing else 'a requirement'}. "
            "Fill it while online with:",
            f"  {_render_command(download_command(spec, download_dir))}",
            shortcut,
        ]
    else:
        lines += [
            f"pip looked on {PYPI_INDEX_URL}. Check that each pin exists there with a wheel "
            f"for {spec.runtime} on {ARCHITECTURES[spec.architecture]} (sdists are never "
            "built), or fix the pin. Without network, download the wheels elsewhere with:",
            f"  {_render_command(download_command(spec, download_dir))}",
            shortcut,
            f"and build with --wheel-dir DIR (or ${WHEEL_DIR_ENV}=DIR).",
        ]
    tail = "\n".join(output.strip().splitlines()[-15:])
    lines += ["pip said:", *(f"  | {line}" for line in tail.splitlines())]
    return PackagingError("\n".join(lines))


def _run_pip(spec: PackageSpec, plan: PackagePlan, target: Path, wheel_dir: Path | None) -> None:
    command = [
        sys.executable,
        "-I",  # isolated: no PYTHONPATH or user site can bring in another pip
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        *_pip_target_options(spec),
        "--no-compile",
        "--no-warn-script-location",
        "--root-user-action=ignore",
        "--progress-bar=off",
        "--no-color",
    ]
    if wheel_dir is not None:
        if not wheel_dir.is_dir():
            raise PackagingError(
                f"Lambda function {spec.function!r}: wheel folder {wheel_dir} "
                f"(--wheel-dir / ${WHEEL_DIR_ENV}) does not exist. Fill it while online with:\n"
                f"  {_render_command(download_command(spec, wheel_dir))}"
            )
        command += ["--no-index", "--find-links", str(wheel_dir.resolve())]
    else:
        command += ["--index-url", PYPI_INDEX_URL]
    command += ["-r", str(spec.requirements_path.resolve())]
    logger.info("%s: pip install %d requirement(s)", spec.function, len(plan.requirements))
    result = subprocess.run(
        command,
        env=pip_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise _pip_failure(spec, plan, wheel_dir, result.stdout)


def download_wheels(spec: PackageSpec, dest: Path) -> None:
    """Download a function's wheels into dest (for offline builds with --wheel-dir)."""
    plan = plan_package(spec)
    if not plan.requirements:
        return
    dest.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        download_command(spec, dest),
        env=pip_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise _pip_failure(spec, plan, None, result.stdout)


# --------------------------------------------------------------------------------------------
# Installed packages -> zip entries


def _filter_record(data: bytes, record_arcname: str, included: set[str]) -> bytes:
    """Keep only the RECORD rows of files that are in the zip (and RECORD itself)."""
    base = posixpath.dirname(posixpath.dirname(record_arcname))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        if not row:
            continue
        path = posixpath.normpath(posixpath.join(base, row[0]))
        if path == record_arcname or path in included:
            writer.writerow(row)
    return out.getvalue().encode("utf-8")


def _collect_installed(target: Path) -> list[ZipEntry]:
    files: dict[str, Path] = {}
    for directory, dirnames, filenames in os.walk(target):
        here = Path(directory)
        relative_dir = here.relative_to(target).as_posix()
        if relative_dir == ".":
            # bin/: console scripts with the build interpreter's absolute path in the shebang.
            dirnames[:] = [d for d in dirnames if d != "bin"]
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in filenames:
            if name.endswith(_EXCLUDED_SUFFIXES):
                continue
            path = here / name
            files[path.relative_to(target).as_posix()] = path
    included = set(files)
    entries: list[ZipEntry] = []
    for arcname in sorted(files):
        path = files[arcname]
        data = path.read_bytes()
        if posixpath.basename(arcname) == "RECORD" and posixpath.dirname(arcname).endswith(
            ".dist-info"
        ):
            data = _filter_record(data, arcname, included)
        executable = bool(path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
        entries.append(ZipEntry(arcname, data, EXECUTABLE_MODE if executable else FILE_MODE))
    return entries


# --------------------------------------------------------------------------------------------
# The zip


def write_reproducible_zip(entries: Iterable[ZipEntry], dest: Path | io.BytesIO) -> None:
    """Write entries as a zip whose bytes depend only on (arcname, data, mode) of each entry."""
    ordered = sorted(entries, key=lambda e: e.arcname)
    names = [e.arcname for e in ordered]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PackagingError(f"zip entries listed twice: {', '.join(duplicates)}")
    with zipfile.ZipFile(dest, "w", compression=ZIP_COMPRESSION, allowZip64=True) as archive:
        for entry in ordered:
            if (
                not entry.arcname
                or entry.arcname.startswith("/")
                or entry.arcname.endswith("/")
                or ".." in entry.arcname.split("/")
                or "\\" in entry.arcname
            ):
                raise PackagingError(f"bad zip entry name {entry.arcname!r}")
            info = zipfile.ZipInfo(entry.arcname, date_time=ZIP_DATE_TIME)
            info.create_system = ZIP_CREATE_SYSTEM
            info.external_attr = (stat.S_IFREG | entry.mode) << 16
            info.compress_type = ZIP_COMPRESSION
            archive.writestr(info, entry.data, compresslevel=ZIP_COMPRESSLEVEL)


def _built(plan: PackagePlan, data: bytes, *, from_cache: bool) -> BuiltPackage:
    return BuiltPackage(
        function=plan.spec.function,
        zip_path=plan.zip_path,
        source_code_hash=source_code_hash(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_key=plan.content_key,
        handler=plan.manifest.handler,
        runtime=plan.spec.runtime,
        architecture=plan.spec.architecture,
        from_cache=from_cache,
    )


def build_package(spec: PackageSpec) -> BuiltPackage:
    """Build (or reuse from spec.build_dir) the function's reproducible zip."""
    plan = plan_package(spec)
    if plan.zip_path.is_file():
        logger.info("%s: reusing %s", spec.function, plan.zip_path)
        return _built(plan, plan.zip_path.read_bytes(), from_cache=True)

    spec.build_dir.mkdir(parents=True, exist_ok=True)
    entries = list(plan.sources)
    if plan.requirements:
        with tempfile.TemporaryDirectory(
            dir=spec.build_dir, prefix=f".{spec.function}-pip-"
        ) as tmp:
            target = Path(tmp) / "target"
            _run_pip(spec, plan, target, resolve_wheel_dir(spec))
            installed = _collect_installed(target)
        own = {e.arcname for e in entries}
        clashes = sorted(e.arcname for e in installed if e.arcname in own)
        if clashes:
            raise PackagingError(
                f"Lambda function {spec.function!r}: {', '.join(clashes)} come both from the "
                "function's own files and from its installed requirements; rename the module"
            )
        entries += installed

    unzipped = sum(len(e.data) for e in entries)
    if unzipped > LAMBDA_MAX_UNZIPPED_BYTES:
        raise PackagingError(
            f"Lambda function {spec.function!r}: unzipped package is {unzipped:,} bytes; "
            f"Lambda allows at most {LAMBDA_MAX_UNZIPPED_BYTES:,}. Trim its requirements."
        )
    buffer = io.BytesIO()
    write_reproducible_zip(entries, buffer)
    data = buffer.getvalue()
    if len(data) > LAMBDA_MAX_ZIP_BYTES:
        raise PackagingError(
            f"Lambda function {spec.function!r}: zip is {len(data):,} bytes; a directly "
            f"uploaded zip may be at most {LAMBDA_MAX_ZIP_BYTES:,}. Trim its requirements "
            "(or deploy it through S3, which this builder does not do)."
        )
    fd, tmp_name = tempfile.mkstemp(dir=spec.build_dir, prefix=f".{spec.function}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, plan.zip_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("%s: wrote %s (%d bytes)", spec.function, plan.zip_path, len(data))
    return _built(plan, data, from_cache=False)


# --------------------------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m modules.packaging",
        description="Build reproducible Lambda zips from handlers/<function>/.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--handlers-root", type=Path, default=DEFAULT_HANDLERS_ROOT)
        sub.add_argument("--contract", type=Path, default=DEFAULT_CONTRACT_PATH)
        sub.add_argument("--architecture", default="arm64", choices=sorted(ARCHITECTURES))
        sub.add_argument("--python-version", default="3.13", choices=list(PYTHON_VERSIONS))
        sub.add_argument("functions", nargs="*", metavar="FUNCTION", help="default: all")

    build = commands.add_parser("build", help="build zips and print: name, path, hash")
    common(build)
    build.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    build.add_argument(
        "--wheel-dir",
        type=Path,
        default=None,
        help=f"offline: install wheels only from this folder (default: ${WHEEL_DIR_ENV})",
    )
    download = commands.add_parser("download", help="download wheels for offline builds")
    common(download)
    download.add_argument("--wheel-dir", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        functions = list(args.functions) or list(discover_functions(args.handlers_root))
        if not functions:
            raise PackagingError(
                f"no functions (folders with {BUNDLE_FILE}) in {args.handlers_root}"
            )
        for function in functions:
            spec = PackageSpec(
                handlers_root=args.handlers_root,
                function=function,
                build_dir=getattr(args, "build_dir", DEFAULT_BUILD_DIR),
                contract_path=args.contract,
                python_version=args.python_version,
                architecture=args.architecture,
                wheel_dir=args.wheel_dir,
            )
            if args.command == "download":
                download_wheels(spec, args.wheel_dir)
                print(f"{function}\t{args.wheel_dir}")
            else:
                built = build_package(spec)
                print(f"{built.function}\t{built.zip_path}\t{built.source_code_hash}")
    except PackagingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
