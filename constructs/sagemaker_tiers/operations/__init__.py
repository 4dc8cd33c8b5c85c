"""Operations: the app's CloudWatch dashboard, built from the widgets each tier construct offers, and the managed
policy of the operator CLI (``sagemaker-tiers``)."""

from sagemaker_tiers.operations.dashboard import DashboardSection, TiersDashboard
from sagemaker_tiers.operations.operator_policy import OperatorPolicy
from sagemaker_tiers.operations.widgets import IWidgetSource

__all__ = ["DashboardSection", "IWidgetSource", "OperatorPolicy", "TiersDashboard"]
