"""studio_domain_cleanup: on stack delete, apps -> spaces -> profiles -> domain with its EFS -> NFS groups (Stubber)."""

from __future__ import annotations

import pytest

import studio_custom_resource as cr
import studio_domain_cleanup as cleanup
from tests.studio.conftest import DOMAIN_ID, cfn_event

PROPS = {"DomainId": DOMAIN_ID}
PHYSICAL = f"studio-cleanup:{DOMAIN_ID}"
LIST = {"DomainIdEquals": DOMAIN_ID}


NFS_NAMES = [f"security-group-for-inbound-nfs-{DOMAIN_ID}", f"security-group-for-outbound-nfs-{DOMAIN_ID}"]
NFS_FILTER = {"Filters": [{"Name": "group-name", "Values": NFS_NAMES}]}


@pytest.fixture()
def ec2_stub():  # type: ignore[no-untyped-def]
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("ec2", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _ops(client, remaining=lambda: 900_000, ec2=None):  # type: ignore[no-untyped-def]
    return {
        "Create": lambda e: cleanup.create(e, client),
        "Update": lambda e: cleanup.update(e, client),
        "Delete": lambda e: cleanup.delete(e, client, remaining, lambda s: None, ec2),
    }


def _nfs_groups() -> list[dict]:
    inbound = {"GroupId": "sg-0inbound0000000a", "GroupName": NFS_NAMES[0], "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "UserIdGroupPairs": [{"GroupId": "sg-0outbound000000b"}]}], "IpPermissionsEgress": []}
    outbound = {"GroupId": "sg-0outbound000000b", "GroupName": NFS_NAMES[1], "IpPermissions": [], "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "UserIdGroupPairs": [{"GroupId": "sg-0inbound0000000a"}]}]}
    return [inbound, outbound]


def _expect_nfs_groups_deleted(e) -> None:  # type: ignore[no-untyped-def]
    inbound, outbound = _nfs_groups()
    e.add_response("describe_security_groups", {"SecurityGroups": [inbound, outbound]}, NFS_FILTER)
    e.add_response("revoke_security_group_ingress", {}, {"GroupId": inbound["GroupId"], "IpPermissions": inbound["IpPermissions"]})
    e.add_response("revoke_security_group_egress", {}, {"GroupId": outbound["GroupId"], "IpPermissions": outbound["IpPermissionsEgress"]})
    # The file system's network interfaces still hold the inbound group: SageMaker is deleting them; wait.
    e.add_client_error("delete_security_group", "DependencyViolation", "has a dependent object", expected_params={"GroupId": inbound["GroupId"]})
    e.add_response("delete_security_group", {}, {"GroupId": outbound["GroupId"]})
    e.add_response("describe_security_groups", {"SecurityGroups": [{**inbound, "IpPermissions": []}]}, NFS_FILTER)
    e.add_response("delete_security_group", {}, {"GroupId": inbound["GroupId"]})
    e.add_response("describe_security_groups", {"SecurityGroups": []}, NFS_FILTER)


def test_create_and_update_change_nothing(sagemaker_stub) -> None:
    client, _ = sagemaker_stub
    assert cr.respond(cfn_event("Create", PROPS), _ops(client))["PhysicalResourceId"] == PHYSICAL
    assert cr.respond(cfn_event("Update", PROPS, physical_id=PHYSICAL, old=PROPS), _ops(client))["Status"] == "SUCCESS"


def test_delete_empties_the_domain_then_deletes_it_with_its_home_efs_and_nfs_groups(sagemaker_stub, ec2_stub) -> None:
    client, s = sagemaker_stub
    ec2, e = ec2_stub
    s.add_response("describe_domain", {"DomainId": DOMAIN_ID, "Status": "InService"}, {"DomainId": DOMAIN_ID})
    lab = {"DomainId": DOMAIN_ID, "SpaceName": "team", "AppType": "JupyterLab", "AppName": "default", "Status": "InService"}
    canvas = {"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "AppType": "Canvas", "AppName": "default", "Status": "InService"}
    # A Failed app is neither deleted (DeleteApp on it errors) nor waited for (it blocks nothing).
    failed = {"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "AppType": "JupyterLab", "AppName": "broken", "Status": "Failed"}
    s.add_response("list_apps", {"Apps": [lab, canvas, failed]}, LIST)
    s.add_response("delete_app", {}, {"DomainId": DOMAIN_ID, "SpaceName": "team", "AppType": "JupyterLab", "AppName": "default"})
    s.add_response("delete_app", {}, {"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "AppType": "Canvas", "AppName": "default"})
    s.add_response("list_apps", {"Apps": [{**lab, "Status": "Deleted"}, {**canvas, "Status": "Deleting"}, failed]}, LIST)
    s.add_response("list_apps", {"Apps": [{**lab, "Status": "Deleted"}, {**canvas, "Status": "Deleted"}, failed]}, LIST)
    s.add_response("list_spaces", {"Spaces": [{"DomainId": DOMAIN_ID, "SpaceName": "team", "Status": "InService"}]}, LIST)
    s.add_response("delete_space", {}, {"DomainId": DOMAIN_ID, "SpaceName": "team"})
    s.add_response("list_spaces", {"Spaces": []}, LIST)
    s.add_response("list_user_profiles", {"UserProfiles": [{"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "Status": "InService"}]}, LIST)
    s.add_client_error("delete_user_profile", "ResourceInUse", "already deleting")  # idempotent
    s.add_response("list_user_profiles", {"UserProfiles": []}, LIST)
    s.add_response("describe_domain", {"DomainId": DOMAIN_ID, "Status": "InService"}, {"DomainId": DOMAIN_ID})
    s.add_response("delete_domain", {}, {"DomainId": DOMAIN_ID, "RetentionPolicy": {"HomeEfsFileSystem": "Delete"}})
    s.add_response("describe_domain", {"DomainId": DOMAIN_ID, "Status": "Deleting"}, {"DomainId": DOMAIN_ID})
    s.add_client_error("describe_domain", "ResourceNotFound", "Domain does not exist")
    _expect_nfs_groups_deleted(e)
    body = cr.respond(cfn_event("Delete", PROPS, physical_id=PHYSICAL), _ops(client, ec2=ec2))
    assert body["Status"] == "SUCCESS", body["Reason"]


def test_delete_of_a_domain_already_gone_still_removes_its_nfs_groups(sagemaker_stub, ec2_stub) -> None:
    client, s = sagemaker_stub
    ec2, e = ec2_stub
    s.add_client_error("describe_domain", "ValidationException", f"Could not find domain '{DOMAIN_ID}'")
    _expect_nfs_groups_deleted(e)
    assert cr.respond(cfn_event("Delete", PROPS, physical_id=PHYSICAL), _ops(client, ec2=ec2))["Status"] == "SUCCESS"


def test_out_of_time_answers_nothing_so_the_async_retry_continues(sagemaker_stub) -> None:
    client, s = sagemaker_stub
    s.add_response("describe_domain", {"DomainId": DOMAIN_ID, "Status": "InService"}, {"DomainId": DOMAIN_ID})
    app = {"DomainId": DOMAIN_ID, "UserProfileName": "u", "AppType": "JupyterLab", "AppName": "a", "Status": "Deleting"}
    s.add_response("list_apps", {"Apps": [app]}, LIST)
    with pytest.raises(cr.NotDoneYet, match="apps"):
        cr.respond(cfn_event("Delete", PROPS, physical_id=PHYSICAL), _ops(client, remaining=lambda: 30_000))


def test_an_aws_error_fails_the_delete(sagemaker_stub) -> None:
    client, s = sagemaker_stub
    s.add_client_error("describe_domain", "AccessDeniedException", "no")
    body = cr.respond(cfn_event("Delete", PROPS, physical_id=PHYSICAL), _ops(client))
    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == PHYSICAL


def test_failed_create_then_delete_touches_nothing(sagemaker_stub) -> None:
    client, _ = sagemaker_stub
    body = cr.respond(cfn_event("Create", {"DomainId": "nope"}), _ops(client))
    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == "failed-create:req-1"
    assert cr.respond(cfn_event("Delete", {"DomainId": "nope"}, physical_id=body["PhysicalResourceId"]), _ops(client))["Status"] == "SUCCESS"
