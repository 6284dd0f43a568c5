"""Tests of modules.packaging: reproducible, cached Lambda zips built from handler folders.

The builds that run pip are session-scoped fixtures, shared by the tests that look at them.
They need PyPI (through pip), except the offline ones, which use a wheel folder filled once.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from modules import packaging  # noqa: E402
from modules.packaging import (  # noqa: E402
    BuiltPackage,
    PackageSpec,
    PackagingError,
    SpecError,
    ZipEntry,
    build_package,
    discover_functions,
    download_wheels,
    pip_environment,
    pip_platform_tags,
    plan_package,
    write_reproducible_zip,
)

ALPHA_PINS = ("kafka-python==3.0.12", "crc32c==2.9.post0")
EM_AARCH64 = 183
EM_X86_64 = 62

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
    download_wheels(spec_for(tree_a, tmp_path_factory.mktemp("unused")), wheels)
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
    assert not alpha_a.from_cache
    assert not built_b.from_cache


def test_source_code_hash_is_base64_sha256_of_the_zip(alpha_a: BuiltPackage) -> None:
    data = alpha_a.zip_path.read_bytes()
    assert alpha_a.source_code_hash == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert alpha_a.sha256 == hashlib.sha256(data).hexdigest()
    assert alpha_a.zip_path.name == f"alpha-{alpha_a.content_key}.zip"
    assert (alpha_a.handler, alpha_a.runtime, alpha_a.architecture) == (
        "alpha.lambda_handler",
        "python3.13",
        "arm64",
    )


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
    names = set(alpha_zip.namelist())
    records = [n for n in names if n.endswith(".dist-info/RECORD")]
    assert len(records) == 2
    for record in records:
        rows = alpha_zip.read(record).decode().splitlines()
        assert rows
        for row in rows:
            path = row.split(",")[0]
            assert not path.startswith(".."), (record, row)
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
        [sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True
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
    again = build_package(spec_for(tree_a, build_dir_a))
    assert again.from_cache
    assert again.zip_path == alpha_a.zip_path
    assert again.source_code_hash == alpha_a.source_code_hash


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
    assert alpha_after.from_cache
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
            "crc32c==2.9.post0   # reordered, comment\n\nkafka_python==3.0.12\n",
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
    tmp_path: Path, path: str, text: str, alpha_changes: bool, beta_changes: bool
) -> None:
    base = make_tree(tmp_path / "base")
    edited = make_tree(tmp_path / "edited")
    (edited / path).write_text(text)
    for function, should_change in (("alpha", alpha_changes), ("beta", beta_changes)):
        before = plan_package(spec_for(base, tmp_path / "build", function)).content_key
        after = plan_package(spec_for(edited, tmp_path / "build", function)).content_key
        assert (before != after) is should_change, function


def test_key_depends_on_python_version_and_architecture(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    keys = {
        plan_package(spec_for(tree, tmp_path, python_version=v, architecture=a)).content_key
        for v in ("3.12", "3.13")
        for a in ("arm64", "x86_64")
    }
    assert len(keys) == 4


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


def test_offline_with_an_empty_wheel_dir_names_every_missing_requirement(
    tree_a: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "wheels"
    empty.mkdir()
    with pytest.raises(PackagingError) as caught:
        build_package(spec_for(tree_a, tmp_path / "build", wheel_dir=empty))
    message = str(caught.value)
    first_line = message.splitlines()[0]
    assert "'alpha'" in first_line
    assert "kafka-python==3.0.12" in first_line and "crc32c==2.9.post0" in first_line
    assert str(empty) in message
    for needle in (
        "pip download",
        "--only-binary=:all:",
        "--no-deps",
        "--python-version 3.13",
        "--platform manylinux2014_aarch64",
        f"--dest {empty}",
        f"-r {tree_a / 'handlers/alpha/requirements.txt'}",
        f"-m modules.packaging download --handlers-root {tree_a / 'handlers'}",
    ):
        assert needle in message, needle
    assert not list((tmp_path / "build").glob("*.zip"))


def test_packages_over_the_lambda_size_limits_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pip: None
) -> None:
    tree = make_tree(tmp_path / "tree")
    spec = spec_for(tree, tmp_path / "build", "beta")
    monkeypatch.setattr(packaging, "LAMBDA_MAX_UNZIPPED_BYTES", 10)
    with pytest.raises(PackagingError, match="unzipped package is 47 bytes"):
        build_package(spec)
    monkeypatch.setattr(packaging, "LAMBDA_MAX_UNZIPPED_BYTES", 1000)
    monkeypatch.setattr(packaging, "LAMBDA_MAX_ZIP_BYTES", 10)
    with pytest.raises(PackagingError, match="a directly uploaded zip may be at most 10"):
        build_package(spec)
    assert not (tmp_path / "build").exists() or not list((tmp_path / "build").iterdir())


def test_offline_wheel_of_the_wrong_architecture_is_named(
    arm_wheels: Path, tree_a: Path, tmp_path: Path
) -> None:
    with pytest.raises(PackagingError) as caught:
        build_package(
            spec_for(tree_a, tmp_path / "build", wheel_dir=arm_wheels, architecture="x86_64")
        )
    first_line = str(caught.value).splitlines()[0]
    assert "crc32c==2.9.post0" in first_line
    assert "kafka-python" not in first_line
    assert "--platform manylinux2014_x86_64" in str(caught.value)


def test_offline_wheel_dir_that_does_not_exist(tree_a: Path, tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="does not exist"):
        build_package(spec_for(tree_a, tmp_path / "build", wheel_dir=tmp_path / "nowhere"))


def test_online_pin_that_does_not_exist_is_named(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "handlers/alpha/requirements.txt").write_text(
        "kafka-python==0.0.0.1\ncrc32c==2.9.post0\n"
    )
    with pytest.raises(PackagingError) as caught:
        build_package(spec_for(tree, tmp_path / "build"))
    first_line = str(caught.value).splitlines()[0]
    assert "kafka-python==0.0.0.1" in first_line
    assert "crc32c" not in first_line
    assert "pip said:" in str(caught.value)


def test_platform_tags_follow_the_lambda_runtime() -> None:
    arm = pip_platform_tags("3.13", "arm64")
    assert arm[0] == "manylinux_2_34_aarch64"
    assert arm[-2:] == ("manylinux_2_17_aarch64", "manylinux2014_aarch64")
    assert "manylinux_2_28_aarch64" in arm
    x86 = pip_platform_tags("3.11", "x86_64")
    assert x86[0] == "manylinux_2_26_x86_64"
    assert "manylinux_2_28_x86_64" not in x86  # AL2's glibc is 2.26
    assert x86[-2:] == ("manylinux_2_5_x86_64", "manylinux1_x86_64")
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64"} <= set(x86)


# -------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("architecture", "amd64", "PackageSpec.architecture"),
        ("architecture", "aarch64", "arm64, x86_64"),
        ("python_version", "3.9", "PackageSpec.python_version"),
        ("python_version", "3.13.1", "3.10, 3.11, 3.12, 3.13, 3.14"),
        ("python_version", 3.13, "PackageSpec.python_version"),
        ("function", "../etc", "PackageSpec.function"),
        ("function", "common", "PackageSpec.function"),
        ("function", "", "PackageSpec.function"),
        ("handlers_root", None, "PackageSpec.handlers_root"),
        ("build_dir", 5, "PackageSpec.build_dir"),
        ("wheel_dir", "", "PackageSpec.wheel_dir"),
    ],
)
def test_bad_spec_values_fail_naming_the_field(
    tmp_path: Path, field: str, value: object, needle: str
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_for(tmp_path, tmp_path, **{field: value})
    assert needle in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_spec_accepts_strings_and_converts_them_to_paths(tmp_path: Path) -> None:
    spec = PackageSpec(
        handlers_root=str(tmp_path),  # type: ignore[arg-type]
        function="alpha",
        build_dir=str(tmp_path),  # type: ignore[arg-type]
    )
    assert spec.handlers_root == tmp_path
    assert spec.runtime == "python3.13"
    assert spec.architecture == "arm64"


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


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (_remove(BUNDLE), "bundle.json is missing"),
        (_write(BUNDLE, "{not json"), "not valid JSON"),
        (_write(BUNDLE, "[]"), "must hold a JSON object"),
        (_write(BUNDLE, '{"handlr": "alpha.lambda_handler"}'), "unknown key(s) 'handlr'"),
        (_write(BUNDLE, '{"handler": "alpha"}'), '"handler" must be "module.function"'),
        (_write(BUNDLE, '{"handler": "nope.handler"}'), "needs nope.py"),
        (_write(BUNDLE, '{"handler": "alpha.h", "common": ["nope.py"]}'), "'nope.py' not found"),
        (_write(BUNDLE, '{"handler": "alpha.h", "common": ["../x.py"]}'), "plain file names"),
        (_write(BUNDLE, '{"handler": "alpha.h", "contract": "yes"}'), '"contract" must be'),
        (_write("handlers/alpha/shared.py", "x = 1\n"), "'shared.py' would be in the zip twice"),
        (_write(PINS, "kafka-python>=3.0\n"), "is not an exact pin"),
        (_write(PINS, "kafka-python==3.*\n"), "is not an exact pin"),
        (_write(PINS, "kafka-python\n"), "is not an exact pin"),
        (_write(PINS, 'crc32c==2.9.post0; python_version >= "3.12"\n'), "markers are not allowed"),
        (_write(PINS, "kafka-python[crc32c]==3.0.12\n"), "extras are not allowed"),
        (_write(PINS, "-r other.txt\n"), "pip options are not allowed"),
        (_write(PINS, "--index-url https://example.invalid\n"), "pip options are not allowed"),
        (_write(PINS, "pkg @ https://example.invalid/pkg.whl\n"), "URL requirements"),
        (_write(PINS, "kafka-python==3.0.12\nKafka_Python==3.0.12\n"), "already pinned on line 1"),
        (
            _write(PINS, "kafka-python==3.0.12 --hash=sha256:00\ncrc32c==2.9.post0\n"),
            "missing for: crc32c==2.9.post0",
        ),
    ],
)
def test_bad_handler_folders_fail_before_pip_with_clear_messages(
    tmp_path: Path, mutate: Mutation, needle: str, no_pip: None
) -> None:
    tree = make_tree(tmp_path / "tree")
    mutate(tree)
    with pytest.raises(PackagingError) as caught:
        build_package(spec_for(tree, tmp_path / "build"))
    assert needle in str(caught.value)


def test_contract_requested_without_contract_path(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    with pytest.raises(PackagingError, match="no contract_path was given"):
        plan_package(spec_for(tree, tmp_path, contract_path=None))


def test_unknown_function_lists_the_known_ones(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    with pytest.raises(PackagingError, match=r"functions found: alpha, beta"):
        plan_package(spec_for(tree, tmp_path, "gamma"))


def test_requirements_with_hashes_comments_and_continuations_parse(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / PINS).write_text(
        "# pins\nKafka_Python == 3.0.12 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "crc32c==2.9.post0 --hash=sha256:cc  # inline comment\n"
    )
    plan = plan_package(spec_for(tree, tmp_path))
    assert [r.canonical() for r in plan.requirements] == [
        "kafka-python==3.0.12 --hash=sha256:aa --hash=sha256:bb",
        "crc32c==2.9.post0 --hash=sha256:cc",
    ]


def test_discover_functions_skips_common_and_folders_without_bundle(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "handlers/notes").mkdir()
    assert discover_functions(tree / "handlers") == ("alpha", "beta")


# -------------------------------------------------------------------------------------------
# The zip writer on its own


def test_write_reproducible_zip_sorts_and_fixes_metadata(tmp_path: Path) -> None:
    entries = [ZipEntry("b/x.py", b"x"), ZipEntry("a.py", b"a"), ZipEntry("tool", b"#!", 0o755)]
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    write_reproducible_zip(entries, first)
    write_reproducible_zip(list(reversed(entries)), second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["a.py", "b/x.py", "tool"]
        modes = [stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()]
        assert modes == [0o644, 0o644, 0o755]


@pytest.mark.parametrize("name", ["/abs.py", "../up.py", "dir/", "", "a\\b.py"])
def test_write_reproducible_zip_rejects_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(PackagingError, match="bad zip entry name"):
        write_reproducible_zip([ZipEntry(name, b"")], tmp_path / "x.zip")


def test_write_reproducible_zip_rejects_duplicates(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match=r"listed twice: a\.py"):
        write_reproducible_zip([ZipEntry("a.py", b"1"), ZipEntry("a.py", b"2")], tmp_path / "x")


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
    assert Path(path).is_file()
    assert digest == base64.b64encode(hashlib.sha256(Path(path).read_bytes()).digest()).decode()


def test_cli_download_fills_a_wheel_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = make_tree(tmp_path / "tree")
    wheels = tmp_path / "wheels"
    args = ["download", "--handlers-root", str(tree / "handlers"), "--wheel-dir", str(wheels)]
    assert packaging.main([*args, "alpha"]) == 0
    assert capsys.readouterr().out == f"alpha\t{wheels}\n"
    assert sorted(p.name.split("-")[0] for p in wheels.glob("*.whl")) == [
        "crc32c",
        "kafka_python",
    ]
    assert "aarch64" in next(wheels.glob("crc32c-*.whl")).name


def test_cli_reports_errors_with_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = make_tree(tmp_path / "tree")
    code = packaging.main(["build", "--handlers-root", str(tree / "handlers"), "gamma"])
    assert code == 1
    assert "error: Lambda function 'gamma'" in capsys.readouterr().err


def test_cli_rejects_unknown_architecture(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        packaging.main(["build", "--architecture", "amd64"])
    assert caught.value.code == 2
    assert "invalid choice: 'amd64'" in capsys.readouterr().err


def test_cli_runs_as_a_module_from_the_repository_root(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
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
            "beta",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("beta\t")


# -------------------------------------------------------------------------------------------
# The repository's own handlers


def test_real_handlers_build(tmp_path: Path) -> None:
    handlers = REPO_ROOT / "handlers"
    functions = discover_functions(handlers) if handlers.is_dir() else ()
    if not functions:
        pytest.skip("handlers/ has no function with a bundle.json yet")
    for function in functions:
        spec = PackageSpec(
            handlers_root=handlers,
            function=function,
            build_dir=tmp_path,
            contract_path=REPO_ROOT / "contracts" / "telemetry_event.json",
        )
        plan = plan_package(spec)
        built = build_package(spec)
        data = built.zip_path.read_bytes()
        assert built.source_code_hash == base64.b64encode(hashlib.sha256(data).digest()).decode()
        with zipfile.ZipFile(built.zip_path) as archive:
            assert archive.testzip() is None
            names = set(archive.namelist())
        module = plan.manifest.handler.rsplit(".", 1)[0].replace(".", "/")
        assert f"{module}.py" in names or f"{module}/__init__.py" in names, function
        assert {e.arcname for e in plan.sources} <= names, function
        installed = set()
        for name in names:
            top = name.split("/")[0]
            if top.endswith(".dist-info"):
                project, version = top[: -len(".dist-info")].split("-")[:2]
                installed.add(f"{re.sub(r'[-_.]+', '-', project).lower()}=={version}")
        for requirement in plan.requirements:
            assert requirement.pin in installed, (function, requirement.pin)
        if plan.manifest.contract:
            assert "telemetry_event.json" in names
