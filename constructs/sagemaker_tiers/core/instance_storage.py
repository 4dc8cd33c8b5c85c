"""Which SageMaker instance families keep their storage volume on local NVMe instance storage.

Those volumes are encrypted by a hardware module on the instance, and SageMaker rejects a customer KMS key for
them (``VolumeKmsKeyId`` of CreateTrainingJob, ``KmsKeyId`` of CreateEndpointConfig: "You can't request a
VolumeKmsKeyId when using an instance type with local storage"). Every tier asks :func:`has_local_storage` before
sending a key, so training and hosting agree.

A family is listed only where AWS documents local NVMe storage for every size. That keeps the choice fail-closed:
a family wrongly left out gets the key and the request fails visibly at the API; a family wrongly listed would
silently run on an EBS volume without the customer key, so uncertain families (such as ``g7``) are not listed.
"""

from __future__ import annotations

#: Families whose every size has local NVMe instance storage (no EBS volume, no customer KMS key).
LOCAL_STORAGE_FAMILIES: frozenset[str] = frozenset(
    {
        "m5d", "c5d", "r5d", "m6gd", "c6gd", "r6gd", "r7gd",
        "g4dn", "g5", "g6", "g6e", "g7e",
        "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200",
        "dl1", "trn1", "trn1n", "trn2",
    }
)


def family(instance_type: str) -> str:
    """``"g5"`` for ``"ml.g5.xlarge"`` (empty for anything that is not ``ml.<family>.<size>``)."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 else ""


def has_local_storage(instance_type: str) -> bool:
    """True when ``instance_type`` has local NVMe storage, so SageMaker takes no customer KMS key for its volume."""
    return family(instance_type) in LOCAL_STORAGE_FAMILIES
