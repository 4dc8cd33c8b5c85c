"""Custom resource: the allowlisted JumpStart models of a private hub, as hub content references.

ResourceProperties: ``HubName``, ``ModelIds`` (JumpStart model ids), ``Partition``, ``Region``.

* Create: ``CreateHubContentReference`` for each id (content name = model id). If one fails, the references this
  request added are deleted again and the request fails: nothing is left half-done.
* Update: adds the new ids, then deletes the dropped ones; on failure it undoes what it changed. A new hub name
  is a replacement (new physical id): references are created in the new hub and CloudFormation then deletes the
  old resource, which deletes the old references.
* Delete: ``DeleteHubContentReference`` for each id; references already gone count as deleted.

Every call is idempotent: an existing reference counts as created, a missing one as deleted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import studio_custom_resource as cr

PUBLIC_HUB = "SageMakerPublicHub"
REFERENCE_TYPE = "ModelReference"
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
MAX_MODELS = 100

def public_model_arn(partition: str, region: str, model_id: str) -> str:
    """ARN of a JumpStart model in SageMaker's public hub."""
    return f"arn:{partition}:sagemaker:{region}:aws:hub-content/{PUBLIC_HUB}/Model/{model_id}"


def parse(props: Mapping[str, Any]) -> tuple[str, list[str], str, str]:
    """Validate ResourceProperties; raise BadRequest naming the property, the value and what is allowed."""
    hub = props.get("HubName")
    if not isinstance(hub, str) or not re.fullmatch(cr.NAME_PATTERN, hub):
        raise cr.BadRequest(f"HubName must be 1-63 letters, digits or '-', got {hub!r}")
    ids = props.get("ModelIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_MODELS:
        raise cr.BadRequest(f"ModelIds must be a list of 1-{MAX_MODELS} JumpStart model ids, got {ids!r}")
    for model_id in ids:
        if not isinstance(model_id, str) or not re.fullmatch(cr.NAME_PATTERN, model_id):
            raise cr.BadRequest(f"ModelIds must hold JumpStart model ids (letters, digits, '-'), got {model_id!r}")
    if len(set(ids)) != len(ids):
        raise cr.BadRequest(f"ModelIds must not repeat an id, got {ids!r}")
    partition, region = props.get("Partition"), props.get("Region")
    if partition not in PARTITIONS:
        raise cr.BadRequest(f"Partition must be one of {', '.join(PARTITIONS)}, got {partition!r}")
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise cr.BadRequest(f"Region must be an AWS region such as 'us-east-1', got {region!r}")
    return hub, list(ids), partition, region


def physical_id(hub: str) -> str:
    return f"hub-model-references:{hub}"


def add(client: Any, hub: str, model_id: str, partition: str, region: str) -> bool:
    """Reference ``model_id`` in ``hub``; False if it was already there."""
    try:
        client.create_hub_content_reference(
            HubName=hub,
            SageMakerPublicHubContentArn=public_model_arn(partition, region, model_id),
            HubContentName=model_id,
        )
        return True
    except Exception as error:
        if cr.error_code(error) in ("ResourceInUse", "ResourceInUseException"):
            return False
        raise


def remove(client: Any, hub: str, model_id: str) -> bool:
    """Delete the reference; False if it was already gone."""
    try:
        client.delete_hub_content_reference(HubName=hub, HubContentType=REFERENCE_TYPE, HubContentName=model_id)
        return True
    except Exception as error:
        if cr.is_not_found(error):
            return False
        raise


def _add_all(client: Any, hub: str, ids: list[str], partition: str, region: str) -> list[str]:
    """Add every id or none: on failure, delete what this call added and re-raise."""
    added: list[str] = []
    try:
        for model_id in ids:
            if add(client, hub, model_id, partition, region):
                added.append(model_id)
    except Exception:
        for model_id in reversed(added):
            try:
                remove(client, hub, model_id)
            except Exception:  # noqa: BLE001 - keep undoing; the original error is what the caller sees
                cr.logger.exception("could not undo a hub content reference", model_id=model_id)
        raise
    return added


def create(event: Mapping[str, Any], client: Any = None) -> cr.Outcome:
    client = client or cr.sagemaker()
    hub, ids, partition, region = parse(event["ResourceProperties"])
    _add_all(client, hub, ids, partition, region)
    return physical_id(hub), {"HubName": hub, "ModelIds": ",".join(ids)}


def update(event: Mapping[str, Any], client: Any = None) -> cr.Outcome:
    client = client or cr.sagemaker()
    if cr.is_failed_create(event):  # the resource never existed: this is its first real create
        return create(event, client)
    hub, ids, partition, region = parse(event["ResourceProperties"])
    old = event.get("OldResourceProperties") or {}
    if old.get("HubName") != hub:
        return create(event, client)  # replacement: CloudFormation deletes the old hub's references afterwards
    old_ids = [i for i in old.get("ModelIds", []) if isinstance(i, str)]
    new = [i for i in ids if i not in old_ids]
    dropped = [i for i in old_ids if i not in ids]
    added = _add_all(client, hub, new, partition, region)
    removed: list[str] = []
    try:
        for model_id in dropped:
            if remove(client, hub, model_id):
                removed.append(model_id)
    except Exception:
        for model_id in removed:
            add(client, hub, model_id, partition, region)
        for model_id in added:
            remove(client, hub, model_id)
        raise
    return physical_id(hub), {"HubName": hub, "ModelIds": ",".join(ids)}


def delete(event: Mapping[str, Any], client: Any = None) -> cr.Outcome:
    client = client or cr.sagemaker()
    try:
        hub, ids, _, _ = parse(event["ResourceProperties"])
    except cr.BadRequest:
        # A Create with these properties was refused before any call: nothing of ours exists.
        return event["PhysicalResourceId"], {}
    if physical_id(hub) != event["PhysicalResourceId"]:
        return event["PhysicalResourceId"], {}
    for model_id in ids:
        remove(client, hub, model_id)
    return event["PhysicalResourceId"], {}


@cr.entry_point
def handler(event: Any, context: Any) -> dict[str, Any]:
    return cr.run(event, {"Create": create, "Update": update, "Delete": delete})
