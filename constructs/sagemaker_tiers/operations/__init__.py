"""Operations: the app's CloudWatch dashboard, built from the widgets each tier construct offers."""

from sagemaker_tiers.operations.dashboard import DashboardSection, TiersDashboard
from sagemaker_tiers.operations.widgets import IWidgetSource

__all__ = ["DashboardSection", "IWidgetSource", "TiersDashboard"]
