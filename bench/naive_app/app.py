"""The baseline of the synth benchmark: a two-stack CDKTF app written the plain way.

Provider, VPC, three subnets and a security group in one stack; an MSK cluster, a bucket
and a Lambda function with an archive asset in the other. Nothing here is tuned: it imports
the provider bindings as their documentation shows, which is what the project's synth is
compared with.
"""

from pathlib import Path

from cdktf import App, AssetType, TerraformAsset, TerraformStack
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.msk_cluster import MskCluster
from cdktf_cdktf_provider_aws.provider import AwsProvider
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from constructs import Construct

HERE = Path(__file__).resolve().parent


class NetworkStack(TerraformStack):
    def __init__(self, scope: Construct, name: str) -> None:
        super().__init__(scope, name)
        AwsProvider(self, "aws", region="us-west-2")
        vpc = Vpc(self, "vpc", cidr_block="10.0.0.0/16")
        self.subnets = [
            Subnet(self, f"subnet-{i}", vpc_id=vpc.id, cidr_block=f"10.0.{i}.0/24")
            for i in range(3)
        ]
        self.security_group = SecurityGroup(self, "sg", vpc_id=vpc.id, name="naive")


class DataStack(TerraformStack):
    def __init__(self, scope: Construct, name: str, network: NetworkStack) -> None:
        super().__init__(scope, name)
        AwsProvider(self, "aws", region="us-west-2")
        MskCluster(
            self,
            "msk",
            cluster_name="naive",
            kafka_version="3.8.x",
            number_of_broker_nodes=3,
            broker_node_group_info={
                "instance_type": "kafka.m5.large",
                "client_subnets": [s.id for s in network.subnets],
                "security_groups": [network.security_group.id],
            },
        )
        S3Bucket(self, "bucket", bucket="naive-bucket")
        asset = TerraformAsset(self, "code", path=str(HERE / "handler"), type=AssetType.ARCHIVE)
        role = IamRole(self, "role", name="naive", assume_role_policy="{}")
        LambdaFunction(
            self,
            "fn",
            function_name="naive",
            role=role.arn,
            handler="index.handler",
            runtime="python3.13",
            filename=asset.path,
        )


app = App()
network = NetworkStack(app, "network")
DataStack(app, "data", network)
app.synth()
