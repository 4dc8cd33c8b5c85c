"""``TiersDashboard``: one CloudWatch dashboard, a titled section per tier, built from the constructs' own widgets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from sagemaker_tiers.core.validation import ValidationError, require_match
from sagemaker_tiers.operations.widgets import GRID_WIDTH, IWidgetSource

#: PutDashboard's rule for DashboardName (botocore's cloudwatch model: at most 255 of A-Z, a-z, 0-9, "-", "_").
DASHBOARD_NAME_PATTERN = r"[A-Za-z0-9_-]{1,255}"


@dataclass(frozen=True)
class DashboardSection:
    """A titled row group of a :class:`TiersDashboard`: the widgets of ``sources``, in order, under a text header.

    :param title: Header of the section (Markdown heading text).
    :param sources: Constructs offering ``widgets()`` (every tier construct does).
    :param description: One line under the header saying what the section answers. Default: none.
    """

    title: str
    sources: Sequence[IWidgetSource] = field(default_factory=tuple)
    description: str = ""


class TiersDashboard(Construct):
    """A CloudWatch dashboard of an app's tiers: a text header per section, then each source construct's widgets.

    Every tier construct (``TrainingPipeline``, ``AutopilotJob``, ``ApprovalWorkflow``, ``ApprovedModelEndpoint``,
    ``StudioDomain``, ``CuratedHub``, ``CanvasIdleShutdown``) offers ``widgets()`` built from its own ``metric_*``
    methods, so the dashboard shows exactly the metrics those methods (and their alarms) use.

    Example::

        dashboard = TiersDashboard(self, "Dashboard", sections=[
            DashboardSection("Training", [pipeline], "Runs by outcome and how long they take"),
            DashboardSection("Approvals", [workflow]),
        ])
        CfnOutput(self, "DashboardUrl", value=dashboard.dashboard_url)

    :param dashboard_name: Name of the dashboard (at most 255 letters, digits, '-' or '_'). Default: a name
        CloudFormation generates.
    :param sections: Sections in order; more can be added with :meth:`add_section`. Default: none.
    :param default_interval: Time range the dashboard opens with. Default: 7 days (runs and approvals are rare
        events; a week shows a pattern).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dashboard_name: str | None = None,
        sections: Sequence[DashboardSection] = (),
        default_interval: Duration | None = None,
    ) -> None:
        if dashboard_name is not None:
            require_match("dashboard_name", dashboard_name, DASHBOARD_NAME_PATTERN, "at most 255 letters, digits, '-' or '_'")
        super().__init__(scope, id)
        self.dashboard = cw.Dashboard(
            self,
            "Resource",
            dashboard_name=dashboard_name,
            default_interval=default_interval or Duration.days(7),
            period_override=cw.PeriodOverride.AUTO,
        )
        self.sections: list[DashboardSection] = []
        for section in sections:
            self.add_section(section)

    @property
    def dashboard_name(self) -> str:
        """Name of the dashboard (a token when CloudFormation names it)."""
        return self.dashboard.dashboard_name

    @property
    def dashboard_url(self) -> str:
        """The dashboard in the CloudWatch console of the stack's region (commercial partition console)."""
        return (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )

    def add_section(self, section: DashboardSection) -> None:
        """Append ``section``: a full-width text header, then the widgets of its sources, left to right.

        :raises ValidationError: if a source offers no ``widgets()`` or the section gets no widget at all.
        """
        if not section.title.strip():
            raise ValidationError(f"section title must not be empty, got {section.title!r}")
        widgets: list[cw.IWidget] = []
        for source in section.sources:
            if not isinstance(source, IWidgetSource):
                raise ValidationError(
                    f"sources of section {section.title!r} must offer widgets() (every tier construct does), got {source!r}"
                )
            widgets.extend(source.widgets())
        if not widgets:
            raise ValidationError(f"section {section.title!r} must show at least one widget, got none from {list(section.sources)!r}")
        header = f"## {section.title}" + (f"\n{section.description}" if section.description else "")
        self.dashboard.add_widgets(cw.TextWidget(markdown=header, width=GRID_WIDTH, height=2 if section.description else 1))
        self.dashboard.add_widgets(*widgets)
        self.sections.append(section)
