"""Model Registry tier: model package groups and the approval workflow."""

from sagemaker_tiers.registry.approval_workflow import ApprovalWorkflow
from sagemaker_tiers.registry.model_package_group import IModelPackageGroup, ModelPackageGroup

__all__ = ["ApprovalWorkflow", "IModelPackageGroup", "ModelPackageGroup"]
