"""Tests of modules.lambda_package: the construct registers the zip as a relative file asset.

One synth in the whole module (importing the AWS provider costs about 10 s), shared through a
module-scoped fixture. The handler tree is pure source, so no pip runs here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import cdktf  # noqa: E402
from cdktf import App, LocalBackend, TerraformStack  # noqa: E402

from modules.lambda_package import LambdaPackage, LambdaPackageProps  # noqa: E402
from modules.packaging import PackageSpec, PackagingError, SpecError  # noqa: E402

STACK = "packaging-test"


def make_tree(root: Path) -> Path:
    files = {
        "handlers/ingest/ingest.py": "def lambda_handler(event, context):\n    return event\n",
        "handlers/ingest/bundle.json": json.dumps(
            {"handler": "ingest.lambda_handler", "common": ["util.py"], "contract": True}
        ),
        "handlers/common/util.py": "X = 1\n",
        "contracts/telemetry_event.json": '{"version": 1}',
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def props_for(tree: Path, **overrides: Any) -> LambdaPackageProps:
    values: dict[str, Any] = {
        "function": "ingest",
        "handlers_root": tree / "handlers",
        "contract_path": tree / "contracts" / "telemetry_event.json",
        "build_dir": tree / "build",
    }
    values.update(overrides)
    return LambdaPackageProps(**values)


@dataclass
class Synth:
    tree: Path
    outdir: Path
    package: LambdaPackage
    stack_dir: Path
    stack_json: dict[str, Any]
    files: dict[Path, str]  # every text file cdktf wrote


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    # The one provider import of this test folder (about 10 s).
    from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    tree = make_tree(tmp_path_factory.mktemp("tree"))
    outdir = tmp_path_factory.mktemp("cdktf.out")
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, STACK)
    LocalBackend(stack, path="terraform.tfstate")  # relative, like the real stacks
    AwsProvider(stack, "aws", region="eu-west-1")
    package = LambdaPackage(stack, "package-ingest", props_for(tree))
    LambdaFunction(
        stack,
        "ingest",
        function_name="acme-ingest-dev",
        role="arn:aws:iam::123456789012:role/acme-ingest-dev",
        filename=package.asset_path,
        source_code_hash=package.source_code_hash,
        handler=package.handler,
        runtime=package.runtime,
        architectures=package.architectures,
    )
    app.synth()
    stack_dir = outdir / "stacks" / STACK
    files = {}
    for path in outdir.rglob("*"):
        if path.is_file() and path.suffix != ".zip":
            files[path] = path.read_text()
    yield Synth(
        tree=tree,
        outdir=outdir,
        package=package,
        stack_dir=stack_dir,
        stack_json=json.loads((stack_dir / "cdk.tf.json").read_text()),
        files=files,
    )


def lambda_resource(synthesized: Synth) -> dict[str, Any]:
    functions = synthesized.stack_json["resource"]["aws_lambda_function"]
    assert len(functions) == 1
    resource: dict[str, Any] = next(iter(functions.values()))
    return resource


def test_function_gets_relative_asset_path_and_hash(synthesized: Synth) -> None:
    resource = lambda_resource(synthesized)
    assert resource["filename"] == synthesized.package.asset_path
    assert resource["filename"].startswith("assets/")
    assert not Path(resource["filename"]).is_absolute()
    assert resource["source_code_hash"] == synthesized.package.source_code_hash
    assert resource["handler"] == "ingest.lambda_handler"
    assert resource["runtime"] == "python3.13"
    assert resource["architectures"] == ["arm64"]


def test_asset_file_is_the_built_zip(synthesized: Synth) -> None:
    copied = synthesized.stack_dir / synthesized.package.asset_path
    data = copied.read_bytes()
    assert data == synthesized.package.zip_path.read_bytes()
    assert base64.b64encode(hashlib.sha256(data).digest()).decode() == (
        synthesized.package.source_code_hash
    )
    assert copied.name == synthesized.package.zip_path.name


def test_synthesized_output_holds_no_build_machine_path(synthesized: Synth) -> None:
    needles = {str(REPO_ROOT), str(Path.home()), str(synthesized.tree), str(synthesized.outdir)}
    assert synthesized.files, "cdktf wrote nothing"
    for path, text in synthesized.files.items():
        for needle in needles:
            assert needle not in text, (path.name, needle)


def test_construct_exposes_packaging_facts(synthesized: Synth) -> None:
    package = synthesized.package
    assert package.function_name == "ingest"
    assert package.handler == "ingest.lambda_handler"
    assert package.zip_path.name == f"ingest-{package.content_key}.zip"
    assert package.zip_path.parent == synthesized.tree / "build"


def test_runtime_and_architecture_follow_the_props(tmp_path: Path) -> None:
    """Another runtime is another zip: the facts come from the props, not from defaults."""
    tree = make_tree(tmp_path)
    stack = TerraformStack(cdktf.Testing.app(), "s")
    default = LambdaPackage(stack, "a", props_for(tree))
    other = LambdaPackage(stack, "b", props_for(tree, python_version="3.12", architecture="x86_64"))
    assert (default.runtime, default.architectures) == ("python3.13", ["arm64"])
    assert (other.runtime, other.architectures) == ("python3.12", ["x86_64"])
    assert other.content_key != default.content_key
    assert other.zip_path != default.zip_path


def test_props_are_the_builders_spec() -> None:
    """One dataclass for both: the construct's props are checked where the builder's are."""
    assert LambdaPackageProps is PackageSpec
    with pytest.raises(SpecError, match="architecture='amd64'"):
        LambdaPackageProps(function="ingest", architecture="amd64")


def test_missing_function_fails_at_construction(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    stack = TerraformStack(cdktf.Testing.app(), "s")
    with pytest.raises(PackagingError, match="'missing'"):
        LambdaPackage(stack, "p", props_for(tree, function="missing"))
