"""Custom resource (opt-in): on stack delete, empty the Studio domain and delete it with its home EFS.

A domain cannot be deleted while it has apps, spaces or user profiles, and CloudFormation's own delete of
``AWS::SageMaker::Domain`` keeps the home EFS file system SageMaker created for it (and bills its storage). This
resource is created after the domain, its profiles and spaces, so CloudFormation deletes it first; its Delete:

1. deletes every ``InService`` app of the domain (JupyterLab, Code Editor, Canvas..., also those users started)
   and waits until none is ``InService``, ``Pending`` or ``Deleting``. A ``Failed`` app is left alone: DeleteApp on
   it errors, and it does not block deleting its profile, space or domain
   (https://docs.aws.amazon.com/sagemaker/latest/dg/gs-studio-delete-domain.html);
2. deletes every space, then every user profile of the domain (also those created outside the stack);
3. deletes the domain with ``RetentionPolicy.HomeEfsFileSystem = "Delete"`` (SageMaker deletes the EFS) and
   waits until it is gone. CloudFormation then finds the profiles, spaces and domain of the stack already
   deleted, which counts as deleted;
4. deletes the two security groups SageMaker created in the VPC for the home file system's NFS traffic,
   ``security-group-for-inbound-nfs-<domain-id>`` and ``security-group-for-outbound-nfs-<domain-id>`` (they
   reference each other, so their rules are revoked first; while the file system's network interfaces still
   use them, DeleteSecurityGroup answers DependencyViolation and the step waits). Left behind, they would block
   deleting the VPC.

Create and Update only validate ``DomainId`` and change nothing. Every step is idempotent. When the Lambda time
runs out first, the handler raises :class:`NotDoneYet` without answering, and Lambda's asynchronous retry (two
more invocations) continues where it stopped.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import studio_custom_resource as cr

POLL_SECONDS = 15
SAFETY_MS = 60_000
#: Apps in these states block nothing (a Failed app cannot be deleted and need not be).
SETTLED_APP_STATES = ("Deleted", "Failed")
NFS_GROUP_NAMES = ("security-group-for-inbound-nfs-{}", "security-group-for-outbound-nfs-{}")

_clients: dict[str, Any] = {}


def aws(name: str) -> Any:
    if name not in _clients:
        import boto3

        _clients[name] = boto3.client(name, region_name=os.environ.get("AWS_REGION"))
    return _clients[name]


def sagemaker():  # type: ignore[no-untyped-def]
    return aws("sagemaker")


def parse(props: Mapping[str, Any]) -> str:
    domain_id = props.get("DomainId")
    if not isinstance(domain_id, str) or not re.fullmatch(r"d-(-*[a-z0-9]){1,61}", domain_id):
        raise cr.BadRequest(f"DomainId must be a domain id such as 'd-abc123', got {domain_id!r}")
    return domain_id


def physical_id(domain_id: str) -> str:
    return f"studio-cleanup:{domain_id}"


def _pages(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        items += page.get(key, [])
        if not page.get("NextToken"):
            return items
        kwargs["NextToken"] = page["NextToken"]


def _ignore_gone(call: Callable[..., Any], **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except Exception as error:
        if cr.is_not_found(error) or cr.error_code(error) in ("ResourceInUse", "ResourceInUseException"):
            return  # already gone, or already being deleted
        raise


class Cleanup:
    """The delete steps, each re-entrant; ``remaining_ms`` and ``sleep`` come from Lambda (tests pass fakes)."""

    def __init__(self, client: Any, domain_id: str, remaining_ms: Callable[[], int], sleep: Callable[[float], None]):
        self.client, self.domain_id, self.remaining_ms, self.sleep = client, domain_id, remaining_ms, sleep

    def _wait(self, what: str) -> None:
        if self.remaining_ms() < SAFETY_MS:
            raise cr.NotDoneYet(f"still waiting for {what} of {self.domain_id}")
        self.sleep(POLL_SECONDS)

    def apps(self) -> None:
        while True:
            apps = [a for a in _pages(self.client.list_apps, "Apps", DomainIdEquals=self.domain_id) if a.get("Status") not in SETTLED_APP_STATES]
            if not apps:
                return
            for app in apps:
                if app.get("Status") == "InService":
                    owner = {"SpaceName": app["SpaceName"]} if app.get("SpaceName") else {"UserProfileName": app["UserProfileName"]}
                    _ignore_gone(self.client.delete_app, DomainId=self.domain_id, AppType=app["AppType"], AppName=app["AppName"], **owner)
            self._wait("apps")

    def spaces(self) -> None:
        while True:
            spaces = _pages(self.client.list_spaces, "Spaces", DomainIdEquals=self.domain_id)
            if not spaces:
                return
            for space in spaces:
                if space.get("Status") != "Deleting":
                    _ignore_gone(self.client.delete_space, DomainId=self.domain_id, SpaceName=space["SpaceName"])
            self._wait("spaces")

    def profiles(self) -> None:
        while True:
            profiles = _pages(self.client.list_user_profiles, "UserProfiles", DomainIdEquals=self.domain_id)
            if not profiles:
                return
            for profile in profiles:
                if profile.get("Status") != "Deleting":
                    _ignore_gone(self.client.delete_user_profile, DomainId=self.domain_id, UserProfileName=profile["UserProfileName"])
            self._wait("user profiles")

    def domain(self) -> None:
        while True:
            try:
                status = self.client.describe_domain(DomainId=self.domain_id).get("Status")
            except Exception as error:
                if cr.is_not_found(error):
                    return
                raise
            if status != "Deleting":
                _ignore_gone(self.client.delete_domain, DomainId=self.domain_id, RetentionPolicy={"HomeEfsFileSystem": "Delete"})
            self._wait("the domain")

    def security_groups(self, ec2: Any) -> None:
        names = [n.format(self.domain_id) for n in NFS_GROUP_NAMES]
        while True:
            groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": names}]).get("SecurityGroups", [])
            if not groups:
                return
            for group in groups:  # each names the other in a rule: revoke them all before deleting either
                if group.get("IpPermissions"):
                    ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
                if group.get("IpPermissionsEgress"):
                    ec2.revoke_security_group_egress(GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"])
            for group in groups:
                try:
                    ec2.delete_security_group(GroupId=group["GroupId"])
                except Exception as error:
                    # Still attached to the file system's network interfaces, which SageMaker is deleting.
                    if cr.error_code(error) not in ("DependencyViolation", "InvalidGroup.NotFound"):
                        raise
            self._wait("the NFS security groups")

    def run(self, ec2: Any = None) -> None:
        self.apps()
        self.spaces()
        self.profiles()
        self.domain()
        self.security_groups(ec2 if ec2 is not None else aws("ec2"))


def create(event: Mapping[str, Any], client: Any = None) -> cr.Outcome:
    return physical_id(parse(event["ResourceProperties"])), {}


def update(event: Mapping[str, Any], client: Any = None) -> cr.Outcome:
    return create(event)


def delete(
    event: Mapping[str, Any],
    client: Any = None,
    remaining_ms: Callable[[], int] = lambda: 900_000,
    sleep: Callable[[float], None] = time.sleep,
    ec2: Any = None,
) -> cr.Outcome:
    try:
        domain_id = parse(event["ResourceProperties"])
    except cr.BadRequest:
        return event["PhysicalResourceId"], {}
    if physical_id(domain_id) != event["PhysicalResourceId"]:
        return event["PhysicalResourceId"], {}
    sm = client or sagemaker()
    steps = Cleanup(sm, domain_id, remaining_ms, sleep)
    try:
        sm.describe_domain(DomainId=domain_id)
    except Exception as error:
        if not cr.is_not_found(error):
            raise
        # The domain is gone (deleted by an earlier invocation that ran out of time, or by hand): its NFS
        # security groups may still be there.
        steps.security_groups(ec2 if ec2 is not None else aws("ec2"))
        return event["PhysicalResourceId"], {}
    steps.run(ec2)
    return event["PhysicalResourceId"], {}


@cr.entry_point
def handler(event: Any, context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 900_000)
    return cr.run(
        event,
        {"Create": create, "Update": update, "Delete": lambda e: delete(e, None, remaining, time.sleep)},
    )
