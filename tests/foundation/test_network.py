from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import MlEncryptionKey, SageMakerNetwork, ValidationError
from sagemaker_tiers.foundation.network import SAGEMAKER_INTERFACE_ENDPOINTS


def _network(**props) -> tuple[Template, SageMakerNetwork]:
    stack = Stack(App(), "NetStack")
    network = SageMakerNetwork(stack, "Network", encryption_key=MlEncryptionKey(stack, "Key"), **props)
    return Template.from_stack(stack), network


@pytest.fixture(scope="module")
def nat() -> tuple[Template, SageMakerNetwork]:
    return _network()


@pytest.fixture(scope="module")
def endpoints() -> tuple[Template, SageMakerNetwork]:
    return _network(egress="endpoints")


def test_default_is_two_azs_private_subnets_one_nat_and_s3_gateway(nat) -> None:
    template, network = nat
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_properties_count_is("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False}, 4)
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"})
    template.resource_properties_count_is("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Interface"}, 0)
    assert len(network.subnet_ids) == 2
    assert network.subnet_selection.subnet_type == ec2.SubnetType.PRIVATE_WITH_EGRESS


def test_no_subnet_assigns_public_ips_not_even_the_public_nat_subnets(nat, endpoints) -> None:
    # Control Tower CT.EC2.PR.11: the public subnets hold only the NAT gateways, which have their own Elastic IPs.
    for template, _ in (nat, endpoints):
        subnets = template.find_resources("AWS::EC2::Subnet")
        assert subnets
        assert {logical_id: s["Properties"].get("MapPublicIpOnLaunch", False) for logical_id, s in subnets.items()} == {
            logical_id: False for logical_id in subnets
        }
    template, _ = nat
    template.resource_properties_count_is("AWS::EC2::Route", {"NatGatewayId": Match.any_value()}, 2)
    template.resource_count_is("AWS::EC2::EIP", 1)


def test_flow_logs_capture_all_traffic_to_an_encrypted_retained_log_group(nat) -> None:
    template, _ = nat
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
    template.has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": {"KmsKeyId": Match.any_value(), "RetentionInDays": 365}, "DeletionPolicy": "Retain"},
    )


def test_security_group_allows_itself_and_https_out_only(nat) -> None:
    template, _ = nat
    group = next(iter(template.find_resources("AWS::EC2::SecurityGroup").values()))
    egress = group["Properties"]["SecurityGroupEgress"]
    assert egress == [Match.any_value()] or len(egress) == 1
    assert egress[0]["CidrIp"] == "0.0.0.0/0" and egress[0]["FromPort"] == 443 and egress[0]["ToPort"] == 443
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress")
    assert len(ingress) == 1
    (rule,) = ingress.values()
    assert "SourceSecurityGroupId" in rule["Properties"] and rule["Properties"]["IpProtocol"] == "-1"


def test_endpoints_mode_is_isolated_with_every_interface_endpoint(endpoints) -> None:
    template, network = endpoints
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_properties_count_is(
        "AWS::EC2::VPCEndpoint",
        {"VpcEndpointType": "Interface", "PrivateDnsEnabled": True},
        len(SAGEMAKER_INTERFACE_ENDPOINTS),
    )
    assert len(network.subnet_ids) == 2
    assert network.subnet_selection.subnet_type == ec2.SubnetType.PRIVATE_ISOLATED
    endpoint_group = template.find_resources(
        "AWS::EC2::SecurityGroup", {"Properties": {"GroupDescription": Match.string_like_regexp("Interface endpoints")}}
    )
    assert len(endpoint_group) == 1
    assert "SecurityGroupIngress" not in next(iter(endpoint_group.values()))["Properties"]  # only from workloads


def test_existing_vpc_is_used_as_is() -> None:
    stack = Stack(App(), "S")
    vpc = ec2.Vpc(stack, "Existing", max_azs=2, nat_gateways=1)
    network = SageMakerNetwork(stack, "Network", vpc=vpc)
    template = Template.from_stack(stack)
    assert network.vpc is vpc
    template.resource_count_is("AWS::EC2::FlowLog", 0)  # flow logs are the owner's
    template.resource_count_is("AWS::EC2::VPC", 1)
    assert network.subnet_selection.subnet_type == ec2.SubnetType.PRIVATE_WITH_EGRESS


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"egress": "public"}, r"egress must be one of 'nat', 'endpoints', got 'public'"),
        ({"max_azs": 1}, r"max_azs must be a whole number between 2 and 6, got 1"),
        ({"max_azs": 7}, r"max_azs must be a whole number between 2 and 6, got 7"),
        ({"nat_gateways": 0}, r"nat_gateways must be a whole number between 1 and 2, got 0"),
        ({"nat_gateways": 3}, r"nat_gateways must be a whole number between 1 and 2, got 3"),
        ({"cidr": "10.0.0.0/8"}, r"cidr must be an IPv4 CIDR block from /16 to /18.*got '10.0.0.0/8'"),
        ({"cidr": "10.0.0.0/19"}, r"cidr must be an IPv4 CIDR block from /16 to /18 \(a /20 workload subnet in each of 2 availability zones and a /26 public subnet per zone \(egress 'nat'\)\), got '10.0.0.0/19'"),
        ({"cidr": "10.0.0.0/20", "egress": "endpoints"}, r"cidr must be an IPv4 CIDR block from /16 to /19 .*got '10.0.0.0/20'"),
        ({"cidr": "10.0.0.0/18", "max_azs": 4, "nat_gateways": 1}, r"from /16 to /17 .*each of 4 availability zones.*got '10.0.0.0/18'"),
        ({"cidr": "300.0.0.0/16"}, r"cidr must be an IPv4 CIDR block.*got '300.0.0.0/16'"),
        ({"encryption_key": None}, r"encryption_key must be given for a new VPC"),
    ],
)
def test_invalid_props_fail_at_synth(props: dict, message: str) -> None:
    stack = Stack(App(), "S")
    props.setdefault("encryption_key", MlEncryptionKey(stack, "Key"))
    with pytest.raises(ValidationError, match=message):
        SageMakerNetwork(stack, "Network", **props)


def test_existing_vpc_without_private_subnets_is_rejected() -> None:
    stack = Stack(App(), "S")
    vpc = ec2.Vpc(
        stack,
        "PublicOnly",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="p", subnet_type=ec2.SubnetType.PUBLIC)],
    )
    with pytest.raises(ValidationError, match=r"vpc must have private or isolated subnets.*got a VPC with 2 public"):
        SageMakerNetwork(stack, "Network", vpc=vpc)


def test_largest_vpc_prefix_is_what_cdk_can_allocate() -> None:
    """The CIDR check agrees with ec2.Vpc's own allocator for every zone count and egress mode."""
    from aws_cdk import Environment

    from sagemaker_tiers.foundation.network import PUBLIC_SUBNET_MASK, WORKLOAD_SUBNET_MASK, largest_vpc_prefix

    zones = {"availability-zones:account=123456789012:region=us-east-1": [f"us-east-1{z}" for z in "abcdef"]}
    for max_azs in range(2, 7):
        for egress in ("nat", "endpoints"):
            longest = largest_vpc_prefix(max_azs, egress)
            for prefix, fits in ((longest, True), (longest + 1, False)):
                stack = Stack(App(context=zones), "S", env=Environment(account="123456789012", region="us-east-1"))
                subnets = [ec2.SubnetConfiguration(name="w", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=WORKLOAD_SUBNET_MASK)]
                if egress == "nat":
                    subnets.insert(0, ec2.SubnetConfiguration(name="p", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=PUBLIC_SUBNET_MASK))
                build = lambda: ec2.Vpc(  # noqa: E731
                    stack, "Vpc", ip_addresses=ec2.IpAddresses.cidr(f"10.0.0.0/{prefix}"), max_azs=max_azs,
                    nat_gateways=0, subnet_configuration=subnets,
                )
                if fits:
                    assert len(build().isolated_subnets) == max_azs, (max_azs, egress, prefix)
                else:
                    with pytest.raises(Exception):  # noqa: B017 - CDK's own allocation error
                        build()
