"""``sagemaker-tiers``: the operator CLI (Click commands, Rich tables, ``--output json`` everywhere).

Every command finds the deployed app from its stack outputs (:mod:`.discovery`). Expected failures (missing stack,
missing permission, unknown group, refused decision, invalid run input) print one line and exit 1; a followed run
that did not succeed exits 1; usage errors exit 2.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from sagemaker_tiers.cli import approvals as approvals_api
from sagemaker_tiers.cli import discovery
from sagemaker_tiers.cli import leaderboard as leaderboard_api
from sagemaker_tiers.cli import runs as runs_api
from sagemaker_tiers.cli import status as status_api
from sagemaker_tiers.cli.errors import CliError, explain

DEFAULT_PROJECT = "sagemaker-tiers"
#: Characters of the longest leaderboard bar.
BAR_WIDTH = 20


class Context:
    """Global options; the session and the deployment are made on first use."""

    def __init__(self, project: str, region: str | None, profile: str | None, cdk_out: Path | None, output: str) -> None:
        self.project = project
        self.region = region
        self.profile = profile
        self.cdk_out = cdk_out
        self.output = output
        self._session: Any = None
        self._deployment: discovery.Deployment | None = None

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = Clients(make_session(self.profile, self.region))
            if not self._session.region_name:
                raise CliError("NoRegion", "no AWS region configured: pass --region")
        return self._session

    @property
    def deployment(self) -> discovery.Deployment:
        if self._deployment is None:
            if self.cdk_out is not None:
                self._deployment = discovery.from_cdk_out(self.session, self.cdk_out)
            else:
                self._deployment = discovery.from_stacks(self.session, self.project)
        return self._deployment


def make_session(profile: str | None, region: str | None) -> Any:
    """The boto3 session the commands use (tests replace it)."""
    return boto3.Session(profile_name=profile, region_name=region)


class Clients:
    """A session that makes each service's client once per command (creating clients is the slow part)."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}
        self.region_name = session.region_name

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    def get_credentials(self) -> Any:
        return self._session.get_credentials()


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _console() -> Console:
    return Console(soft_wrap=False)


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def handles_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn expected failures into one line on stderr (a JSON object with ``--output json``) and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (CliError, ClientError, BotoCoreError) as raw:
            error = explain(raw)
            ctx = click.get_current_context().find_object(Context)
            if ctx is not None and ctx.output == "json":
                click.echo(json.dumps({"error": {"code": error.code, "message": error.message}}), err=True)
            else:
                click.echo(f"Error ({error.code}): {error.message}", err=True)
            sys.exit(1)

    return wrapper


@click.group()
@click.option("--project", default=DEFAULT_PROJECT, show_default=True, envvar="SAGEMAKER_TIERS_PROJECT",
              help="Project name: the stacks are <project>-<tier> (context key sagemaker-tiers:project_name).")
@click.option("--region", default=None, envvar="AWS_REGION", help="AWS region of the stacks. Default: the profile's.")
@click.option("--profile", default=None, help="AWS named profile. Default: the default credential chain.")
@click.option("--cdk-out", "cdk_out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Learn the stack names from this synthesized cloud assembly instead of --project.")
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json: machine-readable output (errors too, on stderr).")
@click.pass_context
def cli(ctx: click.Context, project: str, region: str | None, profile: str | None, cdk_out: Path | None, output: str) -> None:
    """See and drive a deployed sagemaker-tiers app."""
    ctx.obj = Context(project, region, profile, cdk_out, output)


# ------------------------------------------------------------------------------------------------ status


def _age(hours: float | None) -> str:
    if hours is None:
        return "?"
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.1f} h"


def _render_status(data: dict[str, Any]) -> None:
    console = _console()
    groups = Table(title=f"{data['project']} ({data['region']}): model package groups")
    for column in ("Group", "Approved", "Deployed", "Endpoint", "State", "Agree", "Pending"):
        groups.add_column(column)
    for g in data["groups"]:
        agree = {True: "[green]yes[/]", False: "[red]NO[/]", None: "not served"}[g["agree"]]
        groups.add_row(
            g["group"],
            str(g["approvedVersion"] or "none"),
            "-" if g["endpoint"] is None else str(g["deployedVersion"] or "none"),
            g["endpoint"] or "-",
            g["endpointStatus"] or "-",
            agree,
            str(len(g["pending"])),
        )
    console.print(groups)
    pending = [p for g in data["groups"] for p in g["pending"]]
    if pending:
        _pending_table(console, pending)
    queues = Table(title="Dead-letter queues")
    for column in ("Tier", "Queue", "Messages"):
        queues.add_column(column)
    for q in data["deadLetterQueues"]:
        queues.add_row(q["tier"], q["queue"], f"[red]{q['messages']}[/]" if q["messages"] else "0")
    console.print(queues)
    if data["failedRuns"]:
        runs = Table(title="Recent failed runs")
        for column in ("Tier", "Execution", "Status", "Started"):
            runs.add_column(column)
        for r in data["failedRuns"]:
            runs.add_row(r["tier"], r["name"], r["status"], r["startDate"])
        console.print(runs)
    else:
        console.print("No failed runs.")
    if data.get("dashboardUrl"):
        console.print(f"Dashboard: {data['dashboardUrl']}", soft_wrap=True)


def _pending_table(console: Console, pending: list[dict[str, Any]]) -> None:
    table = Table(title="Pending manual approval")
    for column in ("Package", "Age", "Created", "Description"):
        table.add_column(column)
    for p in pending:
        table.add_row(f"{p['group']}/{p['version']}", _age(p["ageHours"]), p["createdAt"] or "?", p["description"])
    console.print(table)


@cli.command()
@click.option("--group", "groups", multiple=True, help="Only this model package group (repeatable). Default: every watched group.")
@click.option("--since-days", type=click.FloatRange(min=0, min_open=True), default=7, show_default=True, help="Failed runs started within these days.")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True, help="At most this many failed runs.")
@click.pass_obj
@handles_errors
def status(obj: Context, groups: tuple[str, ...], since_days: float, limit: int) -> None:
    """Approved vs deployed version and endpoint state per group; pending versions; DLQ depths; failed runs.

    Exit code 0 also when they disagree: read "agree" (or the JSON's "agree") for that.
    """
    data = status_api.status(obj.deployment, obj.session, list(groups), since_days, limit, now())
    if obj.output == "json":
        _emit_json(data)
    else:
        _render_status(data)


# ------------------------------------------------------------------------------------------------ approvals


@cli.group()
def approvals() -> None:
    """Model packages pending manual approval, decided through the IAM-authorized /decisions API."""


@approvals.command("list")
@click.option("--group", "groups", multiple=True, help="Only this model package group (repeatable).")
@click.pass_obj
@handles_errors
def approvals_list(obj: Context, groups: tuple[str, ...]) -> None:
    """Versions waiting for a decision, with their age."""
    pending = approvals_api.list_pending(obj.deployment, obj.session, list(groups), now())
    if obj.output == "json":
        _emit_json(pending)
    elif pending:
        _pending_table(_console(), pending)
    else:
        click.echo("Nothing is pending manual approval.")


def _decision_command(decision: str) -> Callable[..., None]:
    @click.argument("package")
    @click.option("--comment", default="", help=f"Recorded in the package's ApprovalDescription (at most {approvals_api.COMMENT_MAX} characters).")
    @click.pass_obj
    @handles_errors
    def command(obj: Context, package: str, comment: str) -> None:
        result = approvals_api.decide(obj.deployment, obj.session, package, decision, comment)
        if obj.output == "json":
            _emit_json(result)
        else:
            click.echo(f"{result.get('modelPackageArn')}: {result.get('modelApprovalStatus')}")

    command.__doc__ = f"{decision.capitalize()} PACKAGE (<group>/<version> or its ARN), signed with your AWS identity."
    return command


approvals.command("approve")(_decision_command("approve"))
approvals.command("reject")(_decision_command("reject"))


# ------------------------------------------------------------------------------------------------ runs


#: Finished candidates the live display lists (the newest); ``--output json`` carries all of them.
RECENT_CANDIDATES = 5


def _progress_table(progress: runs_api.Progress, title: str) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    colour = {"SUCCEEDED": "green", "RUNNING": "cyan"}.get(progress.status, "red")
    table.add_row("Run", progress.execution_arn.rsplit(":", 1)[-1])
    table.add_row("Status", f"[{colour}]{progress.status}[/]")
    table.add_row("Step", progress.step or "-")
    table.add_row("Job", progress.job or "-")
    table.add_row("Job status", " / ".join(s for s in (progress.job_status, progress.secondary_status) if s) or "-")
    minutes, seconds = divmod(int(progress.elapsed_seconds), 60)
    table.add_row("Elapsed", f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}")
    if progress.training_progress:
        info = progress.training_progress
        table.add_row("Progress", f"epoch {info.get('CurrentEpoch', '?')}/{info.get('MaxEpoch', '?')}, "
                                  f"step {info.get('CurrentStep', '?')}/{info.get('TotalStepCountPerEpoch', '?')}")
    for name, value in sorted(progress.metrics.items()):
        when = progress.metric_times.get(name)
        table.add_row(name, f"{value:.6g}" + (f"  [dim]({when})[/]" if when else ""))
    if progress.candidates is not None:
        done = progress.candidates
        failed = sum(1 for c in done if c["status"] != "Completed")
        table.add_row("Candidates", f"{len(done)} finished" + (f", [red]{failed} failed or stopped[/]" if failed else ""))
        best = progress.best_candidate
        if best is not None:
            table.add_row("Best so far", f"[green]{best['name']}[/] {best['metric']} = {best['value']:.6g}")
        for candidate in done[-RECENT_CANDIDATES:]:
            value = candidate["value"]
            table.add_row(
                f"  {candidate['name']}",
                f"{candidate['status']}" + ("" if value is None else f"  {candidate['metric']} = {value:.6g}"),
            )
    if progress.error:
        table.add_row("Error", f"[red]{progress.error}[/]: {progress.cause or ''}")
    return table


def _follow(obj: Context, arn: str, interval: float, title: str) -> None:
    """Follow a run; exit 0 when it succeeded, 1 when it failed, timed out or was aborted.

    ``--output json``: one JSON object per line for every update (the first look, each change of step, status,
    metrics or candidates, and the last look), for scripts to read as they come.
    """
    if obj.output == "json":
        final = runs_api.follow(
            obj.session, arn, interval, show=lambda _: None,
            update=lambda p: click.echo(json.dumps(p.as_dict(), default=str, separators=(",", ":"))),
        )
    else:
        console = _console()
        with Live(console=console, auto_refresh=False) as live:
            final = runs_api.follow(
                obj.session, arn, interval, show=lambda p: live.update(_progress_table(p, title), refresh=True)
            )
    if final.status != "SUCCEEDED":
        sys.exit(1)


def _parse_hyperparameters(values: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--hyperparameter")
        parsed[name] = value
    return parsed


_interval = click.option("--interval", type=click.FloatRange(min=0), default=30, show_default=True, help="Seconds between looks.")


@cli.group()
def train() -> None:
    """Runs of the training pipeline's state machine."""


@train.command("start")
@click.option("--hyperparameter", "hyperparameters", multiple=True, metavar="NAME=VALUE", help="Override a declared hyperparameter (repeatable).")
@click.option("--instance-type", default=None, help="One of the pipeline's allowed instance types.")
@click.option("--instance-count", type=int, default=None, help="1 to the pipeline's maximum instance count.")
@click.option("--name", default=None, help="Execution name. Default: generated by Step Functions.")
@click.option("--follow/--no-follow", "follow", default=False, help="Follow the run until it ends.")
@_interval
@click.pass_obj
@handles_errors
def train_start(obj: Context, hyperparameters: tuple[str, ...], instance_type: str | None, instance_count: int | None,
                name: str | None, follow: bool, interval: float) -> None:
    """Start a training run with overrides checked as the state machine checks them."""
    rules = runs_api.run_input_rules(obj.deployment)
    run_input = runs_api.training_input(rules, _parse_hyperparameters(hyperparameters), instance_type, instance_count, None)
    arn = runs_api.start(obj.session, obj.deployment.require("training", "StateMachineArn"), run_input, name)
    if not follow:
        if obj.output == "json":
            _emit_json({"executionArn": arn, "input": run_input})
        else:
            click.echo(arn)
        return
    _follow(obj, arn, interval, "Training run")


@train.command("follow")
@click.argument("execution")
@_interval
@click.pass_obj
@handles_errors
def train_follow(obj: Context, execution: str, interval: float) -> None:
    """Follow EXECUTION (its name or ARN) until it ends; exit code 0 only when it succeeded."""
    _follow(obj, runs_api.execution_arn(obj.deployment, "training", execution), interval, "Training run")


@cli.group()
def autopilot() -> None:
    """Runs of the Autopilot (AutoML V2) state machine."""


@autopilot.command("start")
@click.option("--name", default=None, help="Execution name. Default: generated by Step Functions.")
@click.option("--follow/--no-follow", "follow", default=False, help="Follow the run until it ends.")
@_interval
@click.pass_obj
@handles_errors
def autopilot_start(obj: Context, name: str | None, follow: bool, interval: float) -> None:
    """Start an Autopilot run (the job is configured by the stack; a run takes no overrides)."""
    arn = runs_api.start(obj.session, obj.deployment.require("autopilot", "StateMachineArn"), {}, name)
    if not follow:
        if obj.output == "json":
            _emit_json({"executionArn": arn})
        else:
            click.echo(arn)
        return
    _follow(obj, arn, interval, "Autopilot run")


@autopilot.command("follow")
@click.argument("execution")
@_interval
@click.pass_obj
@handles_errors
def autopilot_follow(obj: Context, execution: str, interval: float) -> None:
    """Follow EXECUTION (its name or ARN) until it ends; exit code 0 only when it succeeded."""
    _follow(obj, runs_api.execution_arn(obj.deployment, "autopilot", execution), interval, "Autopilot run")


@autopilot.command("leaderboard")
@click.argument("execution")
@click.option("--top", type=click.IntRange(1, 10000), default=20, show_default=True, help="Show this many candidates.")
@click.option("--image", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Also write the bar chart of the objective metric to this SVG file (rendered by browsers and GitHub).")
@click.pass_obj
@handles_errors
def autopilot_leaderboard(obj: Context, execution: str, top: int, image: Path | None) -> None:
    """The ranked candidates of a succeeded run EXECUTION (its name or ARN), with a bar chart of the objective."""
    if image is not None and image.suffix.lower() != ".svg":
        raise click.BadParameter(f"the chart is written as SVG: name a .svg file, got {str(image)!r}", param_hint="--image")
    document = leaderboard_api.leaderboard(obj.session, runs_api.execution_arn(obj.deployment, "autopilot", execution))
    rows = document["Candidates"][:top]
    objective = document.get("ObjectiveMetric") or {}
    if image is not None:
        chart = leaderboard_api.svg_chart(
            rows, str(objective.get("MetricName", "objective")), str(objective.get("Direction", "?")),
            document.get("BestCandidate"), f"{document.get('AutoMLJobName')}: leaderboard",
        )
        try:
            image.write_text(chart, encoding="utf-8")
        except OSError as error:
            raise CliError("CannotWriteImage", f"cannot write {image}: {error.strerror or error}") from None
        click.echo(f"Wrote {image}", err=True)
    if obj.output == "json":
        _emit_json({**{k: document.get(k) for k in ("AutoMLJobName", "ObjectiveMetric", "BestCandidate")}, "Candidates": rows})
        return
    metric = objective.get("MetricName", "objective")
    table = Table(title=f"{document.get('AutoMLJobName')}: {metric} ({objective.get('Direction', '?')}), best: {document.get('BestCandidate')}")
    for column in ("Rank", "Candidate", "Algorithm", "Status", metric):
        table.add_column(column)
    table.add_column("", min_width=BAR_WIDTH + 1, no_wrap=True)
    values = [r.get("objective_value") for r in rows]
    for row, bar in zip(rows, leaderboard_api.bars(values, width=BAR_WIDTH)):
        best = row.get("candidate_name") == document.get("BestCandidate")
        table.add_row(
            str(row.get("rank") or "-"),
            f"[bold]{row.get('candidate_name')}[/]" if best else str(row.get("candidate_name")),
            str(row.get("algorithm") or "-"),
            str(row.get("candidate_status") or "-"),
            "-" if row.get("objective_value") is None else f"{row['objective_value']:.6g}",
            f"[green]{bar}[/]" if best else bar,
        )
    _console().print(table)


def main() -> None:
    cli(prog_name="sagemaker-tiers")
