"""Network stack: the VPC, its subnets and NAT, and the security groups of MSK and Lambdas."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import (
    VpcSecurityGroupIngressRule,
)
from constructs import Construct

from modules.iam import Allow, policy_document, service_trust_policy
from modules.vpc import VpcNetwork, VpcNetworkProps
from platform_config.model import NetworkSettings

from .base import PlatformStack, StackContext
from .outputs import NetworkOutputs

MSK_IAM_PORT = 9098  # SASL/IAM over TLS, from inside AWS


@dataclass(frozen=True)
class NetworkStackProps:
    context: StackContext
    network: NetworkSettings


class NetworkStack(PlatformStack):
    contract = NetworkOutputs

    def __init__(self, scope: Construct, props: NetworkStackProps) -> None:
        super().__init__(scope, props.context)
        settings = props.network
        net = VpcNetwork(
            self,
            "vpc",
            VpcNetworkProps(
                name=self.name("vpc"),
                cidr=settings.vpc_cidr,
                az_count=settings.az_count,
                nat_gateways=settings.nat_gateways,
            ),
        )
        vpc_id = net.vpc.id
        self._restrict_default_security_group(vpc_id)
        self._flow_logs(vpc_id, settings.flow_log_retention_days)

        # Rules are separate resources (not inline) so other teams can add their own.
        msk_group = SecurityGroup(
            self,
            "msk-sg",
            name=self.name("msk"),
            vpc_id=vpc_id,
            description="MSK brokers: SASL/IAM from platform Lambdas and the cluster itself",
            tags={"Name": self.name("msk")},
        )
        lambda_group = SecurityGroup(
            self,
            "lambda-sg",
            name=self.name("lambda"),
            vpc_id=vpc_id,
            description="Lambdas that publish to or administer MSK",
            tags={"Name": self.name("lambda")},
        )
        for source_id, source in (("lambda", lambda_group), ("self", msk_group)):
            # The cluster's own group is also used by Lambda's MSK event pollers.
            VpcSecurityGroupIngressRule(
                self,
                f"msk-in-{source_id}",
                security_group_id=msk_group.id,
                referenced_security_group_id=source.id,
                ip_protocol="tcp",
                from_port=MSK_IAM_PORT,
                to_port=MSK_IAM_PORT,
                description=f"SASL/IAM over TLS from {source_id}",
            )
        VpcSecurityGroupEgressRule(
            self,
            "msk-out-vpc",
            security_group_id=msk_group.id,
            cidr_ipv4=settings.vpc_cidr,
            ip_protocol="tcp",
            from_port=0,
            to_port=65535,
            description="Brokers and event pollers talk inside the VPC",
        )
        VpcSecurityGroupEgressRule(
            self,
            "msk-out-https",
            security_group_id=msk_group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="Lambda's MSK event pollers call Lambda and STS over HTTPS",
        )
        VpcSecurityGroupEgressRule(
            self,
            "lambda-out-msk",
            security_group_id=lambda_group.id,
            referenced_security_group_id=msk_group.id,
            ip_protocol="tcp",
            from_port=MSK_IAM_PORT,
            to_port=MSK_IAM_PORT,
            description="SASL/IAM to the brokers",
        )
        VpcSecurityGroupEgressRule(
            self,
            "lambda-out-https",
            security_group_id=lambda_group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="AWS APIs over HTTPS through NAT",
        )

        out = NetworkOutputs
        self.export(out.VPC_ID, vpc_id)
        self.export(out.VPC_CIDR, net.vpc.cidr_block)
        self.export(out.PRIVATE_SUBNET_IDS, [s.id for s in net.private_subnets])
        self.export(out.PUBLIC_SUBNET_IDS, [s.id for s in net.public_subnets])
        self.export(out.MSK_SECURITY_GROUP_ID, msk_group.id)
        self.export(out.LAMBDA_SECURITY_GROUP_ID, lambda_group.id)
        # Every stack's alarms notify this one topic. Not encrypted with the AWS-managed SNS
        # key: CloudWatch alarms cannot publish to a topic under that key (its policy does
        # not admit them); the messages hold alarm names and states only.
        alarms = SnsTopic(self, "alarms", name=self.name("alarms"))
        self.export(out.ALARM_TOPIC_ARN, alarms.arn)
        self.check_contract()

    def _restrict_default_security_group(self, vpc_id: str) -> None:
        # Every VPC comes with a default group that lets its members talk to each other and
        # out anywhere; nothing here uses it, so it keeps no rules and anything put in it by
        # mistake can reach nothing.
        DefaultSecurityGroup(
            self, "default-sg", vpc_id=vpc_id, tags={"Name": self.name("default-no-rules")}
        )

    def _flow_logs(self, vpc_id: str, retention_days: int) -> None:
        """Every accepted and rejected flow of the VPC, to a log group with retention."""
        logs = CloudwatchLogGroup(
            self,
            "flow-logs",
            name=f"/aws/vpc/{self.name('flow-logs')}",
            retention_in_days=retention_days,
        )
        role = IamRole(
            self,
            "flow-logs-role",
            name=self.name("vpc-flow-logs"),
            assume_role_policy=service_trust_policy(
                self,
                "flow-logs-trust",
                "vpc-flow-logs.amazonaws.com",
                source_account=self.account_id,
            ),
        )
        IamRolePolicy(
            self,
            "flow-logs-policy",
            name="write-flow-logs",
            role=role.id,
            policy=policy_document(
                self,
                "flow-logs-permissions",
                (
                    Allow(
                        "WriteFlowLogs",
                        (
                            "logs:CreateLogStream",
                            "logs:PutLogEvents",
                            "logs:DescribeLogStreams",
                        ),
                        (logs.arn, f"{logs.arn}:log-stream:*"),
                    ),
                ),
            ),
        )
        FlowLog(
            self,
            "flow-log",
            vpc_id=vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=logs.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=600,
            tags={"Name": self.name("flow-logs")},
        )
