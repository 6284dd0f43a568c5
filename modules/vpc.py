"""A VPC spread over N availability zones with public and private subnets and NAT.

One job: the network plumbing. Security groups belong to the stack that knows who talks to
whom.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from cdktf import Fn
from cdktf_cdktf_provider_aws.data_aws_availability_zones import DataAwsAvailabilityZones
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from constructs import Construct


@dataclass(frozen=True)
class VpcNetworkProps:
    name: str
    cidr: str
    az_count: int
    # "single": one NAT gateway for all private subnets; "per_az": one per AZ.
    nat_gateways: Literal["single", "per_az"]

    def __post_init__(self) -> None:
        network = ipaddress.IPv4Network(self.cidr)
        if not 1 <= self.az_count <= 6:
            raise ValueError(f"VpcNetworkProps.az_count = {self.az_count}: must be 1 to 6")
        if network.prefixlen > 24 - (2 * self.az_count - 1).bit_length():
            raise ValueError(
                f"VpcNetworkProps.cidr = {self.cidr}: too small for {2 * self.az_count} /24 subnets"
            )
        if self.nat_gateways not in ("single", "per_az"):
            raise ValueError(
                f"VpcNetworkProps.nat_gateways = {self.nat_gateways!r}: "
                "allowed values: single, per_az"
            )

    def subnet_cidrs(self) -> tuple[list[str], list[str]]:
        """(public, private) /24 blocks: public first, private after them."""
        blocks = list(ipaddress.IPv4Network(self.cidr).subnets(new_prefix=24))
        public = [str(b) for b in blocks[: self.az_count]]
        # Leave a gap so public subnets can grow without renumbering the private ones.
        private = (
            [str(b) for b in blocks[128 : 128 + self.az_count]]
            if len(blocks) >= 256
            else [str(b) for b in blocks[self.az_count : 2 * self.az_count]]
        )
        return public, private


class VpcNetwork(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: VpcNetworkProps) -> None:
        super().__init__(scope, construct_id)
        zones = DataAwsAvailabilityZones(self, "zones", state="available")
        self.vpc = Vpc(
            self,
            "vpc",
            cidr_block=props.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": props.name},
        )
        gateway = InternetGateway(self, "igw", vpc_id=self.vpc.id, tags={"Name": props.name})
        public_cidrs, private_cidrs = props.subnet_cidrs()

        public_table = RouteTable(
            self, "public", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-public"}
        )
        Route(
            self,
            "public-default",
            route_table_id=public_table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
        )

        self.public_subnets: list[Subnet] = []
        self.private_subnets: list[Subnet] = []
        nat_ids: list[str] = []
        for index in range(props.az_count):
            zone = Fn.element(zones.names, index)
            public = Subnet(
                self,
                f"public-{index}",
                vpc_id=self.vpc.id,
                cidr_block=public_cidrs[index],
                availability_zone=zone,
                tags={"Name": f"{props.name}-public-{index}", "Tier": "public"},
            )
            RouteTableAssociation(
                self, f"public-{index}-rt", subnet_id=public.id, route_table_id=public_table.id
            )
            self.public_subnets.append(public)
            if props.nat_gateways == "per_az" or index == 0:
                address = Eip(
                    self, f"nat-{index}", domain="vpc", tags={"Name": f"{props.name}-nat-{index}"}
                )
                nat = NatGateway(
                    self,
                    f"nat-gateway-{index}",
                    allocation_id=address.id,
                    subnet_id=public.id,
                    tags={"Name": f"{props.name}-{index}"},
                    depends_on=[gateway],
                )
                nat_ids.append(nat.id)

        for index in range(props.az_count):
            private = Subnet(
                self,
                f"private-{index}",
                vpc_id=self.vpc.id,
                cidr_block=private_cidrs[index],
                availability_zone=Fn.element(zones.names, index),
                tags={"Name": f"{props.name}-private-{index}", "Tier": "private"},
            )
            table = RouteTable(
                self,
                f"private-{index}-table",
                vpc_id=self.vpc.id,
                tags={"Name": f"{props.name}-private-{index}"},
            )
            Route(
                self,
                f"private-{index}-default",
                route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_ids[index if props.nat_gateways == "per_az" else 0],
            )
            RouteTableAssociation(
                self, f"private-{index}-rt", subnet_id=private.id, route_table_id=table.id
            )
            self.private_subnets.append(private)
