"""LambdaPackage: one function's reproducible zip, registered as a CDKTF file asset.

Packaging only: it builds handlers/<function>/ with ``modules.packaging`` (reusing the cached
zip when nothing changed) and hands the stack what aws_lambda_function needs::

    package = LambdaPackage(self, "GeneratorPackage", LambdaPackageProps(function="generator"))
    LambdaFunction(self, "Generator", function_name="acme-generator", role=role.arn,
                   filename=package.asset_path, source_code_hash=package.source_code_hash,
                   handler=package.handler, runtime=package.runtime,
                   architectures=package.architectures)

The asset is ``AssetType.FILE`` (the zip is copied as is): CDKTF's own ARCHIVE type zips
record file mtimes, so their hash changes on every fresh checkout. ``asset_path`` is relative
to the synthesized stack folder, so no path of the build machine reaches the stack JSON.
"""

from __future__ import annotations

from pathlib import Path

from cdktf import AssetType, TerraformAsset
from constructs import Construct

from modules.packaging import BuiltPackage, PackageSpec, build_package

__all__ = ["LambdaPackage", "LambdaPackageProps"]

# The construct's props are the builder's spec: which function (folder under handlers_root), for
# which runtime; the paths default to this repository's handlers/, contracts/ and build/lambda/,
# and wheel_dir (or $ACME_WHEEL_DIR) builds offline. One dataclass, checked in one place.
LambdaPackageProps = PackageSpec


class LambdaPackage(Construct):
    """Builds one function's zip at synth time and registers it as a file asset."""

    def __init__(self, scope: Construct, id: str, props: LambdaPackageProps) -> None:
        super().__init__(scope, id)
        if not isinstance(props, LambdaPackageProps):
            raise TypeError(f"LambdaPackage props must be LambdaPackageProps, got {props!r}")
        self._props = props
        self._built: BuiltPackage = build_package(props)
        self._asset = TerraformAsset(
            self,
            "Zip",
            path=str(self._built.zip_path.resolve()),
            type=AssetType.FILE,
            asset_hash=self._built.sha256,
        )

    @property
    def asset(self) -> TerraformAsset:
        return self._asset

    @property
    def asset_path(self) -> str:
        """aws_lambda_function.filename: the zip's path relative to the stack folder."""
        return self._asset.path

    @property
    def source_code_hash(self) -> str:
        """aws_lambda_function.source_code_hash: base64(sha256(zip bytes))."""
        return self._built.source_code_hash

    @property
    def handler(self) -> str:
        """aws_lambda_function.handler, from the function's bundle.json."""
        return self._built.handler

    @property
    def function_name(self) -> str:
        """The handler folder's name (not the AWS function name, which the stack chooses)."""
        return self._props.function

    @property
    def runtime(self) -> str:
        """aws_lambda_function.runtime the zip was built for, e.g. "python3.13"."""
        return f"python{self._props.python_version}"

    @property
    def architectures(self) -> list[str]:
        """aws_lambda_function.architectures the zip was built for, e.g. ["arm64"]."""
        return [self._props.architecture]

    @property
    def zip_path(self) -> Path:
        """The zip on this machine (under build_dir); never put it in the stack."""
        return self._built.zip_path

    @property
    def content_key(self) -> str:
        return self._built.content_key
