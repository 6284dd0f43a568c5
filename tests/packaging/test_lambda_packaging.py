"""Tests of modules.packaging: reproducible, cached Lambda zips built from handler folders.

The builds that run pip are session-scoped fixtures, shared by the tests that look at them.
They need PyPI (through pip), except the offline ones, which use a wheel folder filled once.
Tests of inputs the builder refuses stub pip out: the refusal must come before pip runs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from modules import packaging  # noqa: E402
from modules.packaging import (  # noqa: E402
    BuiltPackage,
    PackageSpec,
    PackagingError,
    SpecError,
    build_package,
    discover_functions,
    pip_environment,
    pip_platform_tags,
    write_reproducible_zip,
)

ALPHA_PINS = ("kafka-python==3.0.12", "crc32c==2.9.post0")
EM_AARCH64 = 183
EM_X86_64 = 62
# What the python3.13 Lambda runtime provides: never packaged, importable beside the zip.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")

TREE: dict[str, str] = {
    "handlers/alpha/alpha.py": (
        "import json\n"
        "import os\n\n"
        "import kafka\n"
        "import shared\n"
        "from alpha_util.fmt import describe\n\n\n"
        "def lambda_handler(event, context):\n"
        "    here = os.path.dirname(os.path.abspath(__file__))\n"
        "    with open(os.path.join(here, 'telemetry_event.json')) as handle:\n"
        "        contract = json.load(handle)\n"
        "    return {'kafka': kafka.__version__, 'shared': shared.VALUE,\n"
        "            'contract': contract['version'], 'describe': describe(event)}\n"
    ),
    "handlers/alpha/alpha_util/__init__.py": "",
    "handlers/alpha/alpha_util/fmt.py": "def describe(event):\n    return sorted(event)\n",
    "handlers/alpha/requirements.txt": "# runtime closure, exact pins\n"
    + "".join(f"{pin}\n" for pin in ALPHA_PINS),
    "handlers/alpha/bundle.json": json.dumps(
        {"handler": "alpha.lambda_handler", "common": ["shared.py"], "contract": True}
    ),
    "handlers/alpha/tests/test_alpha.py": "def test_nothing():\n    pass\n",
    "handlers/alpha/test_local.py": "def test_local():\n    pass\n",
    "handlers/alpha/conftest.py": "",
    "handlers/alpha/__pycache__/alpha.cpython-311.pyc": "not really bytecode",
    "handlers/alpha/stale.pyc": "not really bytecode",
    "handlers/alpha/.mypy_cache/cache.json": "{}",
    "handlers/alpha/.DS_Store": "junk",
    "handlers/beta/beta.py": "def handler(event, context):\n    return 'beta'\n",
    "handlers/beta/bundle.json": json.dumps({"handler": "beta.handler"}),
    "handlers/common/shared.py": "VALUE = 'shared'\n",
    "handlers/common/unused.py": "VALUE = 'unused'\n",
    "contracts/telemetry_event.json": json.dumps({"version": 1, "topic": "acme-telemetry"}),
}
ALPHA_SOURCES = {
    "alpha.py",
    "alpha_util/__init__.py",
    "alpha_util/fmt.py",
    "shared.py",
    "telemetry_event.json",
}


def make_tree(root: Path, files: dict[str, str] | None = None) -> Path:
    for relative, text in (TREE if files is None else files).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def scramble(root: Path) -> None:
    """Other mtimes and modes on every file, as another checkout on another machine has."""
    modes = [0o600, 0o755, 0o640, 0o700, 0o664]
    for index, path in enumerate(sorted(p for p in root.rglob("*") if p.is_file())):
        os.chmod(path, modes[index % len(modes)])
        stamp = 1_000_000_000 + 7_777 * index
        os.utime(path, (stamp, stamp))


def spec_for(
    tree: Path, build_dir: Path, function: str = "alpha", /, **overrides: object
) -> PackageSpec:
    values: dict[str, object] = {
        "handlers_root": tree / "handlers",
        "function": function,
        "build_dir": build_dir,
        "contract_path": tree / "contracts" / "telemetry_event.json",
    }
    values.update(overrides)
    return PackageSpec(**values)  # type: ignore[arg-type]


def elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF", "not an ELF file"
    return int.from_bytes(data[18:20], "little")


def fill_wheel_dir(requirements: Path, dest: Path, architecture: str = "arm64") -> None:
    """What the module's docstring tells a user: `pip download` with the build's options."""
    tags = pip_platform_tags("3.13", architecture)
    command = [sys.executable, "-I", "-m", "pip", "download", f"--dest={dest}", "--no-deps"]
    command += ["--only-binary=:all:", "--implementation=cp", "--python-version=3.13"]
    command += [f"--platform={tag}" for tag in tags]
    command += ["--index-url=https://pypi.org/simple", "-r", str(requirements)]
    subprocess.run(command, env=pip_environment(), check=True, capture_output=True)


@contextlib.contextmanager
def build_conditions(umask: int) -> Iterator[None]:
    """Online (no $ACME_WHEEL_DIR) and under the given umask, both restored afterwards."""
    saved = os.environ.pop(packaging.WHEEL_DIR_ENV, None)
    old = os.umask(umask)
    try:
        yield
    finally:
        os.umask(old)
        if saved is not None:
            os.environ[packaging.WHEEL_DIR_ENV] = saved


@pytest.fixture(autouse=True)
def _no_wheel_dir_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(packaging.WHEEL_DIR_ENV, raising=False)


@pytest.fixture()
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"pip must not run here: {args!r}")

    monkeypatch.setattr(subprocess, "run", refuse)


@pytest.fixture()
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """pip installs nothing: for tests of the content key and of the inputs' checks."""
    calls: list[str] = []

    def install(spec: PackageSpec, target: Path) -> dict[str, tuple[bytes, int]]:
        calls.append(spec.function)
        return {}

    monkeypatch.setattr(packaging, "_install", install)
    return calls


# -------------------------------------------------------------------------------------------
# Session builds (the only ones that run pip online)


@pytest.fixture(scope="session")
def tree_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tree(tmp_path_factory.mktemp("clone-a"))


@pytest.fixture(scope="session")
def build_dir_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build-a")


@pytest.fixture(scope="session")
def alpha_a(tree_a: Path, build_dir_a: Path) -> BuiltPackage:
    with build_conditions(0o022):
        return build_package(spec_for(tree_a, build_dir_a))


@pytest.fixture(scope="session")
def alpha_b(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuiltPackage]:
    """The same tree in another place, other mtimes and modes, built under umask 077."""
    with build_conditions(0o077):
        tree = make_tree(tmp_path_factory.mktemp("clone-b"))
        scramble(tree)
        built = build_package(spec_for(tree, tmp_path_factory.mktemp("build-b")))
    return tree, built


@pytest.fixture(scope="session")
def alpha_x86(tree_a: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltPackage:
    with build_conditions(0o022):
        return build_package(
            spec_for(tree_a, tmp_path_factory.mktemp("build-x86"), architecture="x86_64")
        )


@pytest.fixture(scope="session")
def arm_wheels(tree_a: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheels = tmp_path_factory.mktemp("wheels-arm64")
    fill_wheel_dir(tree_a / "handlers/alpha/requirements.txt", wheels)
    return wheels


@pytest.fixture(scope="session")
def alpha_zip(alpha_a: BuiltPackage) -> Iterator[zipfile.ZipFile]:
    with zipfile.ZipFile(alpha_a.zip_path) as archive:
        yield archive


# -------------------------------------------------------------------------------------------
# Reproducibility


def test_same_inputs_give_identical_bytes_across_clones_mtimes_modes_and_umask(
    alpha_a: BuiltPackage, alpha_b: tuple[Path, BuiltPackage]
) -> None:
    _, built_b = alpha_b
    assert alpha_a.zip_path != built_b.zip_path
    assert alpha_a.zip_path.name == built_b.zip_path.name  # same content key
    assert alpha_a.zip_path.read_bytes() == built_b.zip_path.read_bytes()
    assert alpha_a.source_code_hash == built_b.source_code_hash


def test_hashes_describe_the_zip_on_disk(alpha_a: BuiltPackage) -> None:
    data = alpha_a.zip_path.read_bytes()
    assert alpha_a.source_code_hash == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert alpha_a.sha256 == hashlib.sha256(data).hexdigest()
    assert alpha_a.zip_path.name == f"alpha-{alpha_a.content_key}.zip"
    assert alpha_a.handler == "alpha.lambda_handler"
    assert stat.S_IMODE(alpha_a.zip_path.stat().st_mode) == 0o644


def test_zip_entries_are_sorted_with_fixed_metadata(alpha_zip: zipfile.ZipFile) -> None:
    infos = alpha_zip.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    assert alpha_zip.testzip() is None
    assert alpha_zip.comment == b""
    for info in infos:
        assert not info.is_dir(), info.filename
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert info.create_system == 3, info.filename
        assert info.compress_type == zipfile.ZIP_DEFLATED, info.filename
        assert info.extra == b"", info.filename
        mode = info.external_attr >> 16
        assert stat.S_ISREG(mode), info.filename
        expected = 0o755 if info.filename.endswith(".so") else 0o644
        assert stat.S_IMODE(mode) == expected, info.filename


def test_zip_is_flat_and_excludes_build_and_test_files(alpha_zip: zipfile.ZipFile) -> None:
    names = set(alpha_zip.namelist())
    assert names >= ALPHA_SOURCES
    own = {n for n in names if not n.startswith(("kafka", "crc32c"))}
    assert own == ALPHA_SOURCES  # nothing else of the handler tree
    assert alpha_zip.read("shared.py") == TREE["handlers/common/shared.py"].encode()
    assert alpha_zip.read("telemetry_event.json") == TREE["contracts/telemetry_event.json"].encode()
    for name in names:
        parts = name.split("/")
        assert "__pycache__" not in parts and not name.endswith((".pyc", ".pyo")), name
        assert parts[0] != "bin", name  # pip's console scripts


def test_dependencies_land_in_the_zip_for_the_lambda_platform(
    alpha_zip: zipfile.ZipFile,
) -> None:
    names = set(alpha_zip.namelist())
    assert "kafka/__init__.py" in names
    assert "kafka_python-3.0.12.dist-info/METADATA" in names
    assert "crc32c-2.9.post0.dist-info/METADATA" in names
    shared_objects = [n for n in names if n.startswith("crc32c/") and n.endswith(".so")]
    assert shared_objects == ["crc32c/_crc32c.cpython-313-aarch64-linux-gnu.so"]
    assert elf_machine(alpha_zip.read(shared_objects[0])) == EM_AARCH64
    wheel = alpha_zip.read("crc32c-2.9.post0.dist-info/WHEEL").decode()
    assert "Tag: cp313-cp313-manylinux" in wheel and "aarch64" in wheel


def test_record_lists_only_files_in_the_zip(alpha_zip: zipfile.ZipFile) -> None:
    """pip's RECORD names bin/ scripts (their hashes carry this machine's interpreter path)."""
    names = set(alpha_zip.namelist())
    records = [n for n in names if n.endswith(".dist-info/RECORD")]
    assert len(records) == 2
    for record in records:
        data = alpha_zip.read(record)
        assert b"\r" not in data, record
        rows = data.decode().splitlines()
        assert rows
        for row in rows:
            path = row.split(",")[0]
            assert path in names, (record, row)


def test_no_build_machine_path_in_any_entry(
    alpha_zip: zipfile.ZipFile, tree_a: Path, build_dir_a: Path
) -> None:
    needles = {str(REPO_ROOT), sys.prefix, sys.executable, str(tree_a), str(build_dir_a)}
    for info in alpha_zip.infolist():
        data = alpha_zip.read(info)
        for needle in needles:
            assert needle.encode() not in data, (info.filename, needle)


def test_extracted_zip_runs_the_handler(alpha_a: BuiltPackage, tmp_path: Path) -> None:
    """Load the flat zip as the runtime does: its root on sys.path, handler imported by name."""
    with zipfile.ZipFile(alpha_a.zip_path) as archive:
        archive.extractall(tmp_path)
    code = (
        "import json, sys; sys.path.insert(0, '.'); import alpha; "
        "print(json.dumps(alpha.lambda_handler({'b': 1, 'a': 2}, None)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "kafka": "3.0.12",
        "shared": "shared",
        "contract": 1,
        "describe": ["a", "b"],
    }


def test_x86_64_build_picks_the_x86_64_wheel(
    alpha_x86: BuiltPackage, alpha_a: BuiltPackage
) -> None:
    assert alpha_x86.content_key != alpha_a.content_key
    assert alpha_x86.source_code_hash != alpha_a.source_code_hash
    with zipfile.ZipFile(alpha_x86.zip_path) as archive:
        shared_objects = [n for n in archive.namelist() if n.endswith(".so")]
        assert shared_objects == ["crc32c/_crc32c.cpython-313-x86_64-linux-gnu.so"]
        assert elf_machine(archive.read(shared_objects[0])) == EM_X86_64


# -------------------------------------------------------------------------------------------
# Content key and cache


def test_rebuild_reuses_the_cached_zip_without_pip(
    alpha_a: BuiltPackage, tree_a: Path, build_dir_a: Path, no_pip: None
) -> None:
    stamp = alpha_a.zip_path.stat().st_mtime_ns
    again = build_package(spec_for(tree_a, build_dir_a))
    assert again == alpha_a
    assert alpha_a.zip_path.stat().st_mtime_ns == stamp  # not rewritten


def test_changing_one_handler_changes_only_its_key_and_hash(
    alpha_a: BuiltPackage, build_dir_a: Path, tmp_path: Path, no_pip: None
) -> None:
    original = make_tree(tmp_path / "original")
    beta_before = build_package(spec_for(original, build_dir_a, "beta"))

    changed = make_tree(tmp_path / "changed")
    (changed / "handlers/beta/beta.py").write_text("def handler(event, context):\n    return 2\n")
    beta_after = build_package(spec_for(changed, build_dir_a, "beta"))
    alpha_after = build_package(spec_for(changed, build_dir_a))  # cached: pip must not run

    assert beta_after.content_key != beta_before.content_key
    assert beta_after.source_code_hash != beta_before.source_code_hash
    assert alpha_after.source_code_hash == alpha_a.source_code_hash


@pytest.mark.parametrize(
    ("path", "text", "alpha_changes", "beta_changes"),
    [
        (
            "handlers/alpha/requirements.txt",
            "kafka-python==3.0.11\ncrc32c==2.9.post0\n",
            True,
            False,
        ),
        ("handlers/alpha/alpha_util/fmt.py", "def describe(event):\n    return []\n", True, False),
        ("handlers/common/shared.py", "VALUE = 'other'\n", True, False),
        ("contracts/telemetry_event.json", '{"version": 2}', True, False),
        (
            "handlers/beta/bundle.json",
            '{"handler": "beta.handler", "common": ["unused.py"]}',
            False,
            True,
        ),
        # Not part of any zip: no key changes.
        ("handlers/common/unused.py", "VALUE = 'changed'\n", False, False),
        ("handlers/alpha/tests/test_alpha.py", "# changed\n", False, False),
        (
            "handlers/alpha/requirements.txt",
            "crc32c==2.9.post0   # reordered, comment\n\nkafka_python == 3.0.12\n",
            False,
            False,
        ),
        (
            "handlers/alpha/bundle.json",
            '{"contract": true, "common": ["shared.py"],\n "handler": "alpha.lambda_handler"}',
            False,
            False,
        ),
    ],
)
def test_content_key_follows_exactly_what_goes_into_the_zip(
    tmp_path: Path,
    fake_pip: list[str],
    path: str,
    text: str,
    alpha_changes: bool,
    beta_changes: bool,
) -> None:
    base = make_tree(tmp_path / "base")
    edited = make_tree(tmp_path / "edited")
    (edited / path).write_text(text)
    for function, should_change in (("alpha", alpha_changes), ("beta", beta_changes)):
        before = build_package(spec_for(base, tmp_path / "build-base", function)).content_key
        after = build_package(spec_for(edited, tmp_path / "build-edited", function)).content_key
        assert (before != after) is should_change, function


def test_key_depends_on_python_version_and_architecture(
    tmp_path: Path, fake_pip: list[str]
) -> None:
    tree = make_tree(tmp_path / "tree")
    keys = {
        build_package(spec_for(tree, tmp_path, python_version=v, architecture=a)).content_key
        for v in ("3.12", "3.13")
        for a in ("arm64", "x86_64")
    }
    assert len(keys) == 4
    assert fake_pip == ["alpha"] * 4


def test_pure_source_function_builds_without_pip(tmp_path: Path, no_pip: None) -> None:
    tree = make_tree(tmp_path / "tree")
    built = build_package(spec_for(tree, tmp_path / "build", "beta"))
    with zipfile.ZipFile(built.zip_path) as archive:
        assert archive.namelist() == ["beta.py"]
    assert [p.name for p in (tmp_path / "build").iterdir()] == [built.zip_path.name]


# -------------------------------------------------------------------------------------------
# pip isolation, offline mode and failures


def test_offline_build_from_a_wheel_dir_matches_the_online_build(
    alpha_a: BuiltPackage,
    arm_wheels: Path,
    tree_a: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(packaging.WHEEL_DIR_ENV, str(arm_wheels))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # would fail if used
    built = build_package(spec_for(tree_a, tmp_path / "build"))
    assert built.zip_path.read_bytes() == alpha_a.zip_path.read_bytes()


def test_build_ignores_pip_configuration_and_pip_variables(
    alpha_a: BuiltPackage, tree_a: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constraints, indexes and find-links set for the machine must not reach the build."""
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("kafka-python==2.0.2\ncrc32c==2.7\n")
    links = tmp_path / "links"
    links.mkdir()
    (links / "kafka_python-3.0.12-py3-none-any.whl").write_bytes(b"not a wheel")
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nno-index = true\nconstraint = {constraints}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_CONSTRAINT", str(constraints))
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_PRE", "1")
    built = build_package(spec_for(tree_a, tmp_path / "build"))
    assert built.zip_path.read_bytes() == alpha_a.zip_path.read_bytes()


def test_pip_environment_keeps_only_transport_settings() -> None:
    env = pip_environment(
        {
            "PATH": "/usr/bin",
            "PIP_CONSTRAINT": "/etc/xdg/pip/constraints.txt",
            "PIP_FIND_LINKS": "/opt/wheels",
            "PIP_INDEX_URL": "https://mirror.invalid/simple",
            "PIP_EXTRA_INDEX_URL": "file:///opt/pypi/simple",
            "PIP_CONFIG_FILE": "/etc/pip.conf",
            "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
            "PIP_DEFAULT_TIMEOUT": "180",
        }
    )
    assert env == {
        "PATH": "/usr/bin",
        "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
        "PIP_DEFAULT_TIMEOUT": "180",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }


def test_pip_failure_names_the_function_the_file_and_what_pip_said(
    tree_a: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "wheels"
    empty.mkdir()
    with pytest.raises(PackagingError) as caught:
        build_package(spec_for(tree_a, tmp_path / "build", wheel_dir=empty))
    message = str(caught.value)
    assert message.startswith("Lambda function 'alpha': pip could not install ")
    assert str(tree_a / "handlers/alpha/requirements.txt") in message
    assert f"--find-links={empty}" in message
    assert "No matching distribution found for" in message  # pip's own words
    assert not list((tmp_path / "build").glob("*.zip"))
    assert [p.name for p in (tmp_path / "build").iterdir()] == []  # pip's folder is gone


def test_offline_wheel_of_the_wrong_architecture_is_refused(
    arm_wheels: Path, tree_a: Path, tmp_path: Path
) -> None:
    with pytest.raises(PackagingError) as caught:
        build_package(
            spec_for(tree_a, tmp_path / "build", wheel_dir=arm_wheels, architecture="x86_64")
        )
    assert "No matching distribution found for crc32c==2.9.post0" in str(caught.value)


def test_offline_wheel_dir_that_does_not_exist(tree_a: Path, tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    with pytest.raises(PackagingError, match="pip could not install") as caught:
        build_package(spec_for(tree_a, tmp_path / "build", wheel_dir=nowhere))
    assert f"--find-links={nowhere}" in str(caught.value)


def test_online_pin_that_does_not_exist_is_named(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "handlers/alpha/requirements.txt").write_text(
        "kafka-python==0.0.0.1\ncrc32c==2.9.post0\n"
    )
    with pytest.raises(PackagingError) as caught:
        build_package(spec_for(tree, tmp_path / "build"))
    assert "from PyPI" in str(caught.value)
    assert "kafka-python==0.0.0.1" in str(caught.value)


def test_platform_tags_follow_the_lambda_runtime() -> None:
    arm = pip_platform_tags("3.13", "arm64")
    assert arm[0] == "manylinux_2_34_aarch64"
    assert arm[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert len(arm) == 34 - 17 + 1 + 1  # every glibc from 2.34 down to 2.17, and the alias
    x86 = pip_platform_tags("3.11", "x86_64")
    assert x86[0] == "manylinux_2_26_x86_64"
    assert "manylinux_2_28_x86_64" not in x86  # AL2's glibc is 2.26
    assert x86[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
    assert x86.index("manylinux2010_x86_64") == x86.index("manylinux_2_12_x86_64") + 1
    assert x86.index("manylinux2014_x86_64") == x86.index("manylinux_2_17_x86_64") + 1


# -------------------------------------------------------------------------------------------
# Inputs the builder refuses


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("architecture", "amd64"),
        ("architecture", "aarch64"),
        ("python_version", "3.9"),
        ("python_version", "3.13.1"),
        ("function", "../etc"),
        ("function", "common"),
        ("function", ""),
    ],
)
def test_bad_spec_values_are_refused_with_the_allowed_ones(
    tmp_path: Path, field: str, value: str
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_for(tmp_path, tmp_path, **{field: value})
    assert f"{field}={value!r}" in str(caught.value)
    assert "3.10/3.11/3.12/3.13/3.14 / arm64/x86_64" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_spec_defaults_to_the_repository_layout_and_a_python313_arm64_runtime() -> None:
    spec = PackageSpec(function="generator")
    assert spec.handlers_root == REPO_ROOT / "handlers"
    assert spec.contract_path == REPO_ROOT / "contracts" / "telemetry_event.json"
    assert spec.build_dir == REPO_ROOT / "build" / "lambda"
    assert (spec.python_version, spec.architecture, spec.wheel_dir) == ("3.13", "arm64", None)


Mutation = Callable[[Path], None]


def _write(relative: str, text: str) -> Mutation:
    def mutate(root: Path) -> None:
        (root / relative).write_text(text)

    return mutate


def _remove(relative: str) -> Mutation:
    def mutate(root: Path) -> None:
        (root / relative).unlink()

    return mutate


PINS = "handlers/alpha/requirements.txt"
BUNDLE = "handlers/alpha/bundle.json"
NOT_A_BUNDLE = 'is not {"handler": "module.function", "common": [file names], "contract": bool}'
NOT_A_PIN = "is not an exact pin name==version"


@pytest.mark.parametrize(
    ("mutate", "where", "needle"),
    [
        (_remove(BUNDLE), BUNDLE, "No such file or directory"),
        (_write(BUNDLE, "{not json"), BUNDLE, "Expecting property name"),
        (_write(BUNDLE, "[]"), BUNDLE, NOT_A_BUNDLE),
        (_write(BUNDLE, '{"handlr": "alpha.lambda_handler"}'), BUNDLE, NOT_A_BUNDLE),
        (_write(BUNDLE, '{"handler": "alpha"}'), BUNDLE, NOT_A_BUNDLE),
        (_write(BUNDLE, '{"handler": "alpha.h", "common": ["../x.py"]}'), BUNDLE, NOT_A_BUNDLE),
        (_write(BUNDLE, '{"handler": "alpha.h", "common": "shared.py"}'), BUNDLE, NOT_A_BUNDLE),
        (_write(BUNDLE, '{"handler": "alpha.h", "contract": "yes"}'), BUNDLE, NOT_A_BUNDLE),
        (_write(BUNDLE, '{"handler": "nope.handler"}'), BUNDLE, "no nope.py for the handler"),
        (
            _write(BUNDLE, '{"handler": "alpha.h", "common": ["no.py"]}'),
            "handlers/common/no.py",
            "",
        ),
        (_write("handlers/alpha/shared.py", "x = 1\n"), "", "a second shared.py in the zip"),
        (_write(PINS, "kafka-python>=3.0\n"), f"{PINS}:1", NOT_A_PIN),
        (_write(PINS, "# pins\n\nkafka-python==3.*\n"), f"{PINS}:3", NOT_A_PIN),
        (_write(PINS, "kafka-python\n"), f"{PINS}:1", NOT_A_PIN),
        (_write(PINS, "kafka-python===3.0.12\n"), f"{PINS}:1", NOT_A_PIN),
        (_write(PINS, 'crc32c==2.9.post0; python_version >= "3.12"\n'), f"{PINS}:1", NOT_A_PIN),
        (_write(PINS, "kafka-python[crc32c]==3.0.12\n"), f"{PINS}:1", NOT_A_PIN),
        (_write(PINS, "-r other.txt\n"), f"{PINS}:1", NOT_A_PIN),
        (_write(PINS, "--index-url https://example.invalid\n"), f"{PINS}:1", NOT_A_PIN),
        (_write(PINS, "pkg @ https://example.invalid/pkg.whl\n"), f"{PINS}:1", NOT_A_PIN),
        (_write(PINS, "kafka-python==3.0.12 --hash=sha256:00\n"), f"{PINS}:1", NOT_A_PIN),
    ],
)
def test_bad_handler_folders_fail_before_pip_naming_the_file(
    tmp_path: Path, mutate: Mutation, where: str, needle: str, no_pip: None
) -> None:
    tree = make_tree(tmp_path / "tree")
    mutate(tree)
    with pytest.raises(PackagingError) as caught:
        build_package(spec_for(tree, tmp_path / "build"))
    assert needle in str(caught.value)
    assert str(tree / where) in str(caught.value)


def test_contract_requested_without_contract_path(tmp_path: Path, no_pip: None) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "handlers/beta/bundle.json").write_text('{"handler": "beta.handler", "contract": 1}')
    with pytest.raises(PackagingError, match="is not"):
        build_package(spec_for(tree, tmp_path, "beta", contract_path=None))
    (tree / "handlers/beta/bundle.json").write_text('{"handler": "beta.handler", "contract": true}')
    with pytest.raises(PackagingError, match="<no contract_path> is not a file"):
        build_package(spec_for(tree, tmp_path, "beta", contract_path=None))


def test_unknown_function_is_named(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    with pytest.raises(PackagingError, match=r"^Lambda function 'gamma': .*gamma/bundle\.json"):
        build_package(spec_for(tree, tmp_path, "gamma"))


def test_symlinked_folder_is_refused_not_skipped(tmp_path: Path, no_pip: None) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "handlers/beta/linked").symlink_to(tree / "handlers/alpha/alpha_util")
    with pytest.raises(PackagingError, match="beta/linked is not a file"):
        build_package(spec_for(tree, tmp_path / "build", "beta"))


def test_discover_functions_skips_common_and_folders_without_bundle(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "handlers/notes").mkdir()
    assert discover_functions(tree / "handlers") == ["alpha", "beta"]


# -------------------------------------------------------------------------------------------
# The zip writer on its own


def test_write_reproducible_zip_ignores_entry_order(tmp_path: Path) -> None:
    entries = {"b/x.py": (b"x", 0o644), "a.py": (b"a", 0o644), "tool": (b"#!", 0o755)}
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    write_reproducible_zip(entries, first)
    write_reproducible_zip(dict(reversed(entries.items())), second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["a.py", "b/x.py", "tool"]
        modes = [stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()]
        assert modes == [0o644, 0o644, 0o755]
        assert [archive.read(name) for name in archive.namelist()] == [b"a", b"x", b"#!"]


# -------------------------------------------------------------------------------------------
# CLI


def test_cli_builds_named_functions_and_prints_name_path_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_pip: None
) -> None:
    tree = make_tree(tmp_path / "tree")
    args = [
        "build",
        "--handlers-root",
        str(tree / "handlers"),
        "--contract",
        str(tree / "contracts/telemetry_event.json"),
        "--build-dir",
        str(tmp_path / "build"),
        "beta",
    ]
    assert packaging.main(args) == 0
    name, path, digest = capsys.readouterr().out.strip().split("\t")
    assert name == "beta"
    assert Path(path).parent == tmp_path / "build"
    assert digest == base64.b64encode(hashlib.sha256(Path(path).read_bytes()).digest()).decode()


def test_cli_wheel_dir_builds_offline(
    alpha_a: BuiltPackage,
    arm_wheels: Path,
    tree_a: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # would fail if used
    handlers = str(tree_a / "handlers")
    contract = str(tree_a / "contracts/telemetry_event.json")
    args = ["build", "--handlers-root", handlers, "--contract", contract, "alpha"]
    args += ["--build-dir", str(tmp_path), "--wheel-dir", str(arm_wheels)]
    assert packaging.main(args) == 0
    name, path, digest = capsys.readouterr().out.strip().split("\t")
    assert (name, digest) == ("alpha", alpha_a.source_code_hash)
    assert Path(path).read_bytes() == alpha_a.zip_path.read_bytes()


def test_cli_reports_errors_with_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = make_tree(tmp_path / "tree")
    code = packaging.main(["build", "--handlers-root", str(tree / "handlers"), "gamma"])
    assert code == 1
    assert capsys.readouterr().err.startswith("error: Lambda function 'gamma'")


def test_cli_runs_as_a_module_from_the_repository_root(tmp_path: Path) -> None:
    files = {k: v for k, v in TREE.items() if not k.startswith("handlers/alpha/")}
    files["handlers/delta/delta.py"] = "def handler(event, context):\n    return 'delta'\n"
    files["handlers/delta/bundle.json"] = json.dumps({"handler": "delta.handler"})
    tree = make_tree(tmp_path / "tree", files)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "modules.packaging",
            "build",
            "--handlers-root",
            str(tree / "handlers"),
            "--build-dir",
            str(tmp_path / "build"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["beta", "delta"]


# -------------------------------------------------------------------------------------------
# The repository's own handlers: closure of each zip


HANDLERS = REPO_ROOT / "handlers"
FUNCTIONS = discover_functions(HANDLERS)


@pytest.fixture(scope="session")
def real_zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltPackage]:
    build_dir = tmp_path_factory.mktemp("real-build")
    return {
        function: build_package(PackageSpec(function=function, build_dir=build_dir))
        for function in FUNCTIONS
    }


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the Lambda runtime adds beside the zip (boto3 and its closure), nothing else."""
    folder = tmp_path_factory.mktemp("lambda-runtime")
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (folder / source.name).symlink_to(source)
    return folder


@pytest.mark.parametrize("function", FUNCTIONS)
def test_compiled_wheels_are_for_the_lambda_runtime(
    real_zips: dict[str, BuiltPackage], function: str
) -> None:
    """python3.13 on arm64 (manylinux, glibc 2.34 at most): pure wheels, cp313 or abi3."""
    with zipfile.ZipFile(real_zips[function].zip_path) as archive:
        wheels = [n for n in archive.namelist() if n.endswith(".dist-info/WHEEL")]
        tags = [
            line.removeprefix("Tag: ")
            for name in wheels
            for line in archive.read(name).decode().splitlines()
            if line.startswith("Tag: ")
        ]
    for tag in tags:
        python, abi, plat = tag.split("-")
        if plat == "any":
            continue
        assert plat.endswith("_aarch64") and plat.startswith("manylinux"), tag
        assert (python, abi) == ("cp313", "cp313") or (
            abi == "abi3" and int(python.removeprefix("cp3")) <= 13
        ), tag


def test_expected_functions() -> None:
    assert len(FUNCTIONS) == 10 and "common" not in FUNCTIONS


@pytest.mark.parametrize("function", FUNCTIONS)
def test_real_handler_zip_holds_its_pins_and_nothing_else(
    real_zips: dict[str, BuiltPackage], function: str
) -> None:
    built = real_zips[function]
    with zipfile.ZipFile(built.zip_path) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
    lines = (HANDLERS / function / "requirements.txt").read_text().splitlines()
    pins = [Requirement(line) for line in (ln.split("#")[0].strip() for ln in lines) if line]
    expected = {f"{canonicalize_name(r.name)}=={next(iter(r.specifier)).version}" for r in pins}
    installed = set()
    for name in names:
        top = name.split("/")[0]
        if top.endswith(".dist-info"):
            project, version = top.removesuffix(".dist-info").split("-")
            installed.add(f"{canonicalize_name(project)}=={version}")
    assert installed == expected
    bundle = json.loads((HANDLERS / function / "bundle.json").read_text())
    assert set(bundle["common"]) <= names
    assert ("telemetry_event.json" in names) is bundle["contract"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_real_handler_imports_from_its_zip_and_the_runtime_alone(
    real_zips: dict[str, BuiltPackage], runtime_dir: Path, function: str, tmp_path: Path
) -> None:
    """No site-packages: every import the handler makes at load time is in the zip.

    A zip with compiled extensions for the Lambda platform (arm64, 3.13) cannot load on this
    machine: the same pins are then built for this machine's Python and architecture, which
    checks the closure; test_compiled_wheels_are_for_the_lambda_runtime checks the tags.
    """
    built = real_zips[function]
    with zipfile.ZipFile(built.zip_path) as archive:
        compiled = any(name.endswith(".so") for name in archive.namelist())
    if compiled:
        host = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
        built = build_package(
            PackageSpec(
                function=function,
                build_dir=tmp_path / "host-build",
                python_version=f"3.{sys.version_info.minor}",
                architecture=host,
            )
        )
        tmp_path = tmp_path / "root"
    with zipfile.ZipFile(built.zip_path) as archive:
        archive.extractall(tmp_path)
    module, attribute = built.handler.rsplit(".", 1)
    check = (
        "import importlib, sys\n"
        f"sys.path[:0] = [{str(tmp_path)!r}, {str(runtime_dir)!r}]\n"
        f"m = importlib.import_module({module!r})\n"
        f"assert callable(m.{attribute})\n"
        f"assert m.__file__.startswith({str(tmp_path)!r}), m.__file__\n"
    )
    env = {"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2", "PATH": os.defpath}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
