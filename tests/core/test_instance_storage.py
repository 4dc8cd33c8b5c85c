"""core.instance_storage: one list of local-NVMe families, shared by training and hosting, failing closed."""

from __future__ import annotations

from sagemaker_tiers.core.instance_storage import LOCAL_STORAGE_FAMILIES, family, has_local_storage
from sagemaker_tiers.inference import REALTIME_INSTANCE_TYPES
from sagemaker_tiers.training import INSTANCE_STORAGE_FAMILIES, TRAINING_INSTANCE_TYPES, has_instance_storage


def test_training_and_hosting_use_the_same_list() -> None:
    assert INSTANCE_STORAGE_FAMILIES is LOCAL_STORAGE_FAMILIES
    for instance_type in sorted(set(TRAINING_INSTANCE_TYPES) | REALTIME_INSTANCE_TYPES):
        assert has_instance_storage(instance_type) == has_local_storage(instance_type), instance_type


def test_every_listed_family_is_one_sagemaker_offers() -> None:
    offered = {family(t) for t in (*TRAINING_INSTANCE_TYPES, *REALTIME_INSTANCE_TYPES)}
    assert LOCAL_STORAGE_FAMILIES <= offered, sorted(LOCAL_STORAGE_FAMILIES - offered)


def test_unknown_or_malformed_types_get_the_customer_key() -> None:
    # Fail closed: anything not known to have local storage is treated as EBS-backed (the key is sent).
    for value in ("ml.m5.large", "ml.zz9.xlarge", "g5.xlarge", "", "ml.g5"):
        assert not has_local_storage(value), value
    assert has_local_storage("ml.g5.xlarge") and has_local_storage("ml.p4d.24xlarge")
