"""Reproducible Lambda zips of ``handlers/<function>/`` (``python -m modules.packaging build``).

Layout: ``bundle.json`` {"handler": "module.function", "common": [files of handlers/common/],
"contract": bool}, ``requirements.txt`` (exact pins name==version of the whole closure: pip
installs them --no-deps for the Lambda platform) and own files; the zip holds them all flat (the
contract as telemetry_event.json). Its bytes depend only on them: entries sorted, no folders, dated
1980, Unix, deflate 9, mode 0o644 (0o755 if pip made it executable); no bytecode, hidden files,
tests, bundle.json, requirements.txt, pip's bin/ or pip config; RECORDs list only zipped files.
"""

import argparse
import base64
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

FORMAT_VERSION = "2"  # in every content key: bump it when the same inputs give other bytes
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HANDLERS_ROOT = REPO_ROOT / "handlers"
DEFAULT_CONTRACT_PATH = REPO_ROOT / "contracts" / "telemetry_event.json"
DEFAULT_BUILD_DIR = REPO_ROOT / "build" / "lambda"
WHEEL_DIR_ENV = "ACME_WHEEL_DIR"
ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}  # Lambda name -> manylinux machine
# Lambda Python runtime -> glibc of its Amazon Linux (AL2: 2.26, AL2023: 2.34).
PYTHON_VERSIONS = {f"3.{minor}": (2, 26 if minor < 12 else 34) for minor in range(10, 15)}
# The only PIP_* variables pip gets: they change how it reaches the index, not what it installs.
PIP_KEPT = {f"PIP_{v}" for v in ("CERT", "CLIENT_CERT", "PROXY", "RETRIES", "TIMEOUT")}
PIP_KEPT |= {f"PIP_{v}" for v in ("DEFAULT_TIMEOUT", "CACHE_DIR", "NO_CACHE_DIR")}
BUNDLE_FORMAT = '{"handler": "module.function", "common": [file names], "contract": bool}'
RUNTIMES = f"{'/'.join(PYTHON_VERSIONS)} / {'/'.join(ARCHITECTURES)}"
SKIP = re.compile(  # the files of a function's folder that never go into its zip
    r"(^|/)(\.|__pycache__/|tests?/|test_[^/]*\.py$|conftest\.py$)|\.py[co]$"
    r"|^(bundle\.json|requirements\.txt)$"
)
PIP_SKIP = re.compile(r"^bin/|(^|/)__pycache__/|\.py[co]$")  # console scripts, bytecode


class PackagingError(Exception): ...  # a Lambda package cannot be built: the message says why


class SpecError(PackagingError, ValueError): ...  # a PackageSpec field has a bad value


@dataclass(frozen=True, kw_only=True)
class PackageSpec:  # one function for one Lambda runtime (and the LambdaPackage construct's props)
    function: str  # its folder under handlers_root
    handlers_root: Path = DEFAULT_HANDLERS_ROOT
    contract_path: Path | None = DEFAULT_CONTRACT_PATH
    build_dir: Path = DEFAULT_BUILD_DIR
    python_version: str = "3.13"
    architecture: str = "arm64"
    wheel_dir: Path | None = None  # offline: wheels only from here (else $ACME_WHEEL_DIR)

    def __post_init__(self) -> None:
        folder = self.function.replace("-", "_").isidentifier() and self.function != "common"
        runtime = self.python_version in PYTHON_VERSIONS and self.architecture in ARCHITECTURES
        if not (folder and runtime):
            raise SpecError(f"{self!r}: want a folder name and a runtime in {RUNTIMES}")


@dataclass(frozen=True)
class BuiltPackage:
    spec: PackageSpec
    handler: str  # aws_lambda_function.handler, from bundle.json
    content_key: str  # hashes every input but the installed files, which the pins fix
    zip_path: Path  # <build_dir>/<function>-<content_key>.zip
    sha256: str  # of the zip, in hex; source_code_hash is in base64 (aws_lambda_function's)
    source_code_hash: str


def pip_platform_tags(python_version: str, architecture: str) -> list[str]:
    """The runtime's manylinux tags, newest first (pip does not expand ``manylinux_2_X``)."""
    machine, (major, newest) = ARCHITECTURES[architecture], PYTHON_VERSIONS[python_version]
    old = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    minors = range(newest, 16 if machine == "aarch64" else 4, -1)
    return [f"{t}_{machine}" for m in minors for t in (f"manylinux_{major}_{m}", old.get(m)) if t]


def pip_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    items = (os.environ if environ is None else environ).items()
    env = {k: v for k, v in items if k in PIP_KEPT or not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def discover_functions(handlers_root: Path | str) -> list[str]:
    return sorted(path.parent.name for path in Path(handlers_root).glob("*/bundle.json"))


def _install(spec: PackageSpec, target: Path) -> dict[str, tuple[bytes, int]]:
    """pip installs the pins into target for the Lambda platform; returns what goes in the zip."""
    wheel_dir = spec.wheel_dir or os.environ.get(WHEEL_DIR_ENV) or None
    requirements = (spec.handlers_root / spec.function / "requirements.txt").resolve()
    tags = pip_platform_tags(spec.python_version, spec.architecture)
    wheels = ["--no-deps", "--only-binary=:all:", "--implementation=cp", "-r", str(requirements)]
    wheels += [f"--python-version={spec.python_version}", *(f"--platform={t}" for t in tags)]
    index = ["--no-index", f"--find-links={Path(wheel_dir).resolve()}"] if wheel_dir else []
    pip = [sys.executable, "-I", "-m", "pip", "install", "--no-compile", f"--target={target}"]
    pip += [*(index or ["--index-url=https://pypi.org/simple"]), *wheels]
    result = subprocess.run(pip, env=pip_environment(), capture_output=True, text=True)
    if result.returncode:  # `pip download --dest DIR *wheels` fills a wheel folder for offline
        problem = f"pip could not install {requirements} ({' '.join(index) or 'from PyPI'})"
        raise PackagingError(f"Lambda function {spec.function!r}: {problem}:\n{result.stderr}")
    files = {p.relative_to(target).as_posix(): p for p in target.rglob("*") if p.is_file()}
    files = {arcname: path for arcname, path in files.items() if not PIP_SKIP.search(arcname)}
    entries = {}
    for arcname, path in files.items():
        data = path.read_bytes()
        if arcname.endswith(".dist-info/RECORD") and arcname.count("/") == 1:  # zipped files only
            rows = [row for row in data.decode().splitlines() if row]
            data = "".join(f"{r}\n" for r in rows if next(csv.reader([r]))[0] in files).encode()
        entries[arcname] = (data, 0o755 if path.stat().st_mode & 0o111 else 0o644)
    return entries


def write_reproducible_zip(entries: Mapping[str, tuple[bytes, int]], dest: Path) -> None:
    """A zip whose bytes depend only on each entry's arcname, data and mode."""
    with zipfile.ZipFile(dest, "w") as archive:
        for arcname, (data, mode) in sorted(entries.items()):
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, (0o100000 | mode) << 16  # Unix, a file
            archive.writestr(info, data, zipfile.ZIP_DEFLATED, 9)


def build_package(spec: PackageSpec) -> BuiltPackage:
    """Build the function's zip into spec.build_dir, or reuse the one its content key names."""
    folder, where = spec.handlers_root / spec.function, f"Lambda function {spec.function!r}"
    try:
        raw = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PackagingError(f"{where}: {folder}/bundle.json: {error}") from error
    bundle = {"common": [], "contract": False} | (raw if isinstance(raw, dict) else {"": raw})
    handler, common, contract = (bundle.pop(key, None) for key in ("handler", "common", "contract"))
    parts, names = str(handler).split("."), common if isinstance(common, list) else [None]
    valid = [not bundle, isinstance(contract, bool), len(parts) > 1, *map(str.isidentifier, parts)]
    if not all(valid + [isinstance(n, str) and n == Path(n).name for n in names]):
        raise PackagingError(f"{folder}/bundle.json: {raw!r} is not {BUNDLE_FORMAT}")
    requirements, pins = folder / "requirements.txt", []
    lines = requirements.read_text(encoding="utf-8").splitlines() if requirements.exists() else []
    for n, text in enumerate((line.split("#")[0].strip() for line in lines), 1):
        try:
            req = Requirement(text)
            (pin,) = req.specifier  # exactly one specifier, else ValueError
            exact = str(req) == f"{req.name}=={pin.version}" and "*" not in pin.version
        except ValueError:  # InvalidRequirement is one too
            exact = False
        if exact:
            pins.append(f"{canonicalize_name(req.name)}=={pin.version}")
        elif text:
            raise PackagingError(f"{requirements}:{n}: {text!r} is not an exact pin name==version")
    paths = [p for p in folder.rglob("*") if p.is_symlink() or not p.is_dir()]
    files = [(p.relative_to(folder).as_posix(), p) for p in paths]
    files = [(arcname, path) for arcname, path in files if not SKIP.search(arcname)]
    files += [(name, spec.handlers_root / "common" / name) for name in common]
    files += [("telemetry_event.json", spec.contract_path or Path("<no contract_path>"))] * contract
    sources: dict[str, bytes] = {}
    for arcname, path in files:
        if arcname in sources or not path.is_file():
            problem = f"a second {arcname} in the zip" if arcname in sources else "not a file"
            raise PackagingError(f"{where}: {path} is {problem}")
        sources[arcname] = path.read_bytes()
    if not {f"{(module := '/'.join(parts[:-1]))}.py", f"{module}/__init__.py"} & set(sources):
        raise PackagingError(f"{folder}/bundle.json: no {module}.py for the handler {handler!r}")
    digests = {arcname: hashlib.sha256(data).hexdigest() for arcname, data in sources.items()}
    inputs = [FORMAT_VERSION, spec.python_version, spec.architecture, handler, common, contract]
    key = hashlib.sha256(json.dumps([*inputs, sorted(pins), digests], sort_keys=True).encode())
    zip_path = spec.build_dir / f"{spec.function}-{key.hexdigest()}.zip"
    if not zip_path.exists():
        spec.build_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=spec.build_dir, prefix=f".{spec.function}-") as tmp:
            entries = _install(spec, Path(tmp) / "pip") if pins else {}
            entries |= {arcname: (data, 0o644) for arcname, data in sources.items()}  # own win
            write_reproducible_zip(entries, zipped := Path(tmp) / "package.zip")
            zipped.chmod(0o644)
            zipped.replace(zip_path)
    digest = hashlib.sha256(zip_path.read_bytes())
    code_hash = base64.b64encode(digest.digest()).decode()
    return BuiltPackage(spec, handler, key.hexdigest(), zip_path, digest.hexdigest(), code_hash)


def main(argv: Sequence[str] | None = None) -> int:
    """``build [FUNCTION ...]``: build the zips and print, per function: name, zip path, hash."""
    p = argparse.ArgumentParser(prog="python -m modules.packaging", description=main.__doc__)
    p.add_argument("command", choices=["build"])
    p.add_argument("--handlers-root", type=Path, default=DEFAULT_HANDLERS_ROOT)
    p.add_argument("--contract", dest="contract_path", type=Path, default=DEFAULT_CONTRACT_PATH)
    p.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    p.add_argument("--wheel-dir", type=Path, help=f"offline (default: ${WHEEL_DIR_ENV})")
    p.add_argument("functions", nargs="*", metavar="FUNCTION", help="default: all")
    options = {k: v for k, v in vars(p.parse_intermixed_args(argv)).items() if k != "command"}
    try:
        for function in options.pop("functions") or discover_functions(options["handlers_root"]):
            built = build_package(PackageSpec(function=function, **options))
            print(f"{function}\t{built.zip_path}\t{built.source_code_hash}", flush=True)
    except PackagingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
