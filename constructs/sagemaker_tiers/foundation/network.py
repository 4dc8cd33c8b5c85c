"""The network SageMaker jobs, endpoints and Studio run in."""

from __future__ import annotations

import math
from typing import Literal

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.validation import (
    ValidationError,
    require_customer_managed_key,
    require_int_in_range,
    require_match,
    require_one_of,
)

Egress = Literal["nat", "endpoints"]
EGRESS_MODES: tuple[str, ...] = ("nat", "endpoints")

#: Interface endpoints created in ``egress="endpoints"`` mode: what Studio in VpcOnly mode and SageMaker jobs
#: call (SageMaker API, runtime, Studio and notebook UIs, STS, CloudWatch Logs and metrics, ECR, KMS).
SAGEMAKER_INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "SageMakerStudio": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_STUDIO,
    "SageMakerNotebook": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_NOTEBOOK,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
}


#: Size of each availability zone's workload subnet (4,096 addresses) and of a public (NAT) subnet.
WORKLOAD_SUBNET_MASK = 20
PUBLIC_SUBNET_MASK = 26


def largest_vpc_prefix(max_azs: int, egress: str) -> int:
    """The longest prefix (smallest block) a new VPC of ``max_azs`` zones can have.

    One /20 workload subnet per zone; with NAT egress, a /26 public subnet per zone, which CDK's allocator places
    ahead of the /20s and so costs one /20-aligned block in all. Checked against ``ec2.Vpc`` for 2-6 zones and
    both egress modes in the tests.
    """
    blocks = max_azs + (1 if egress == "nat" else 0)
    return WORKLOAD_SUBNET_MASK - math.ceil(math.log2(blocks))


def require_vpc_cidr(name: str, cidr: str, *, max_azs: int, egress: str) -> None:
    """Fail unless ``cidr`` is an IPv4 block from /16 with room for ``max_azs`` zones' subnets."""
    longest = largest_vpc_prefix(max_azs, egress)
    require_match(
        name,
        cidr,
        r"(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}/(1[6-9]|2[0-4])",
        f"an IPv4 CIDR block from /16 to /{longest}, such as '10.40.0.0/16'",
    )
    prefix = int(cidr.rsplit("/", 1)[1])
    if prefix > longest:
        public = f" and a /{PUBLIC_SUBNET_MASK} public subnet per zone (egress 'nat')" if egress == "nat" else ""
        raise ValidationError(
            f"{name} must be an IPv4 CIDR block from /16 to /{longest} (a /{WORKLOAD_SUBNET_MASK} workload subnet in "
            f"each of {max_azs} availability zones{public}), got {cidr!r}"
        )


class SageMakerNetwork(Construct):
    """A VPC for SageMaker, or an existing one, with the subnets and security group every tier uses.

    A new VPC (the default) has ``max_azs`` availability zones, no public IPs (not even in the public subnets, which
    hold only the NAT gateways and their Elastic IPs), VPC flow logs to a
    KMS-encrypted log group, and a free S3 gateway endpoint. How workloads reach AWS APIs and the internet is
    ``egress``:

    * ``"nat"`` (default, the cheaper one): private subnets behind ``nat_gateways`` NAT gateways (one by
      default, about 33 USD a month plus data). Studio users can ``pip install`` from public repositories.
    * ``"endpoints"``: isolated subnets with no route to the internet, and the interface endpoints in
      :data:`SAGEMAKER_INTERFACE_ENDPOINTS` (about 7.3 USD a month per endpoint per AZ: about 146 USD a month for
      two AZs). Nothing leaves the VPC except through AWS endpoints.

    With ``vpc`` given, nothing is created in it but the security group: the tiers use its private subnets
    (isolated ones if it has no private subnets), and endpoints, flow logs and egress are the owner's.

    Example::

        network = SageMakerNetwork(self, "Network", encryption_key=key)
        network.subnet_ids, network.security_group

    :param encryption_key: KMS key for the flow log group. Required for a new VPC.
    :param vpc: An existing VPC. Default: a new VPC as described above.
    :param egress: ``"nat"`` or ``"endpoints"``; only for a new VPC. Default: ``"nat"``.
    :param cidr: IPv4 CIDR of a new VPC, from /16 to a block with a /20 per zone (and, with ``egress="nat"``, room
        for the /26 public subnets): /19 for 2 zones with endpoints, /18 for 2-3 zones, /17 for up to 6.
        Default: ``"10.40.0.0/16"``.
    :param max_azs: Availability zones of a new VPC, 2-6. Default: 2.
    :param nat_gateways: NAT gateways with ``egress="nat"``, 1 to ``max_azs`` (one per AZ survives an AZ outage).
        Default: 1.
    :param flow_log_retention: Retention of the flow log group. Default: one year.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey | None = None,
        vpc: ec2.IVpc | None = None,
        egress: Egress = "nat",
        cidr: str = "10.40.0.0/16",
        max_azs: int = 2,
        nat_gateways: int = 1,
        flow_log_retention: logs.RetentionDays = defaults.LOG_RETENTION,
    ) -> None:
        super().__init__(scope, id)
        require_one_of("egress", egress, EGRESS_MODES)
        require_customer_managed_key("encryption_key", encryption_key, required=False)
        require_int_in_range("max_azs", max_azs, minimum=2, maximum=6)
        require_int_in_range("nat_gateways", nat_gateways, minimum=1, maximum=max_azs)
        require_vpc_cidr("cidr", cidr, max_azs=max_azs, egress=egress)
        self.egress = egress
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}

        if vpc is not None:
            self.vpc = vpc
            self.subnet_selection = (
                ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
                if vpc.private_subnets
                else ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            )
            if not vpc.private_subnets and not vpc.isolated_subnets:
                raise ValidationError(
                    "vpc must have private or isolated subnets (SageMaker workloads get no public IPs), "
                    f"got a VPC with {len(vpc.public_subnets)} public subnets only"
                )
        else:
            if encryption_key is None:
                raise ValidationError("encryption_key must be given for a new VPC (flow logs are encrypted), got None")
            self.vpc = self._new_vpc(encryption_key, egress, cidr, max_azs, nat_gateways, flow_log_retention)
            self.subnet_selection = ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS if egress == "nat" else ec2.SubnetType.PRIVATE_ISOLATED
            )

        self.security_group = ec2.SecurityGroup(
            self,
            "WorkloadSecurityGroup",
            vpc=self.vpc,
            description="SageMaker jobs, endpoints and Studio apps: each other and HTTPS out",
            allow_all_outbound=False,
        )
        # Distributed training, Studio's EFS and JupyterServer/KernelGateway traffic stay inside the group.
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.all_traffic(), "members of this group")
        self.security_group.add_egress_rule(self.security_group, ec2.Port.all_traffic(), "members of this group")
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and packages")

        if vpc is None and egress == "endpoints":
            self._add_interface_endpoints()

    @property
    def subnets(self) -> ec2.SelectedSubnets:
        """The subnets the tiers place their workloads in."""
        return self.vpc.select_subnets(
            subnet_type=self.subnet_selection.subnet_type,
        )

    @property
    def subnet_ids(self) -> list[str]:
        """IDs of :attr:`subnets`, for SageMaker ``VpcConfig``."""
        return self.subnets.subnet_ids

    def _new_vpc(
        self,
        key: kms.IKey,
        egress: str,
        cidr: str,
        max_azs: int,
        nat_gateways: int,
        retention: logs.RetentionDays,
    ) -> ec2.Vpc:
        workload_type = ec2.SubnetType.PRIVATE_WITH_EGRESS if egress == "nat" else ec2.SubnetType.PRIVATE_ISOLATED
        subnets = [ec2.SubnetConfiguration(name="workloads", subnet_type=workload_type, cidr_mask=WORKLOAD_SUBNET_MASK)]
        if egress == "nat":
            # Only the NAT gateways live in the public subnets, with their own Elastic IPs: nothing launched there
            # gets a public IP by default (Control Tower control CT.EC2.PR.11).
            subnets.insert(
                0,
                ec2.SubnetConfiguration(
                    name="public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=PUBLIC_SUBNET_MASK,
                    map_public_ip_on_launch=False,
                ),
            )
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=key,
            retention=retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=nat_gateways if egress == "nat" else 0,
            subnet_configuration=subnets,
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        return vpc

    def _add_interface_endpoints(self) -> None:
        self._endpoint_sg = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS from SageMaker workloads only",
            allow_all_outbound=False,
        )
        self._endpoint_sg.add_ingress_rule(self.security_group, ec2.Port.tcp(443), "HTTPS from SageMaker workloads")
        self.add_interface_endpoints(SAGEMAKER_INTERFACE_ENDPOINTS)

    def add_interface_endpoints(self, services: dict[str, ec2.InterfaceVpcEndpointAwsService]) -> list[str]:
        """Add interface endpoints (private DNS, HTTPS from the workload security group only) to a new VPC with
        ``egress="endpoints"``; endpoints already there are kept. Returns the names added. Other networks (NAT
        egress, or an existing VPC whose endpoints are its owner's) get nothing: they reach AWS without them.
        """
        if not hasattr(self, "_endpoint_sg"):
            return []
        added = []
        for name, service in services.items():
            if name in self.interface_endpoints:
                continue
            self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                name,
                service=service,
                private_dns_enabled=True,
                security_groups=[self._endpoint_sg],
                open=False,
                subnets=self.subnet_selection,
            )
            added.append(name)
        return added

