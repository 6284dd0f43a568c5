"""A Lambda function that Terraform invokes during the apply (``aws_lambda_invocation``),
for work that has no resource of its own, such as creating a Kafka topic. It runs again
whenever its input or one of its triggers changes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.lambda_invocation import LambdaInvocation
from constructs import Construct

from .lambda_function import PythonFunction, PythonFunctionProps


@dataclass(frozen=True)
class DeployTimeInvocationProps:
    """input: the JSON event (a mapping of JSON values); triggers: values (may be tokens)
    whose change invokes the function again; depends_on: what must exist first."""

    function: PythonFunctionProps
    input: Mapping[str, Any]
    triggers: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[ITerraformDependable] = ()

    def __post_init__(self) -> None:
        try:
            json.dumps(self.input)
        except (TypeError, ValueError) as error:
            raise ValueError(f"DeployTimeInvocationProps.input is not JSON: {error}") from None


class DeployTimeInvocation(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, props: DeployTimeInvocationProps
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PythonFunction(self, "function", props.function)
        self.invocation = LambdaInvocation(
            self,
            "invocation",
            function_name=self.function.function_name,
            input=json.dumps(props.input, sort_keys=True),
            # A changed request runs the function again, as does any trigger.
            triggers={**props.triggers, "request": json.dumps(props.input)},
            depends_on=list(props.depends_on),
        )
