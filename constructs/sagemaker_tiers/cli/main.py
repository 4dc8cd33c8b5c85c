"""``sagemaker-tiers``: the operator CLI (Click commands, Rich tables, ``--output json`` everywhere).

Every command finds the deployed app from its stack outputs (:mod:`.discovery`). Expected failures (missing stack,
missing permission, unknown group, refused decision) print one line and exit 1; usage errors exit 2.
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
from rich.table import Table

from sagemaker_tiers.cli import approvals as approvals_api
from sagemaker_tiers.cli import discovery
from sagemaker_tiers.cli import status as status_api
from sagemaker_tiers.cli.errors import CliError, explain

DEFAULT_PROJECT = "sagemaker-tiers"


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


def main() -> None:
    cli(prog_name="sagemaker-tiers")
