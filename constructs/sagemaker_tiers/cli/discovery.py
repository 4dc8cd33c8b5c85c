"""Find a deployed app's resources from its CloudFormation stack outputs.

The app names its stacks ``<project>-<tier>`` (``stacks/app.py``). The CLI reads the outputs of the deployed stacks
(DescribeStacks), given the project name, or learns the stack names and the outputs they define from a ``cdk.out``
folder (``manifest.json`` and the templates' ``Outputs``) and then reads the deployed values the same way. Only the
registry stack is required; a tier whose stack is not deployed is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sagemaker_tiers.cli.errors import CliError

#: The app's stacks, ``<project>-<tier>`` (``operations``: the dashboard and the operator policy).
TIERS = ("foundation", "registry", "training", "autopilot", "studio", "inference", "operations")
REQUIRED_TIER = "registry"


@dataclass(frozen=True)
class Deployment:
    """The outputs of one deployed app, per tier: ``outputs["registry"]["ApprovalApiUrl"]``."""

    project: str
    region: str
    stacks: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def output(self, tier: str, key: str) -> str | None:
        return self.outputs.get(tier, {}).get(key)

    def require(self, tier: str, key: str) -> str:
        value = self.output(tier, key)
        if value is None:
            stack = self.stacks.get(tier, f"{self.project}-{tier}")
            if tier not in self.stacks:
                raise CliError("MissingStack", f"stack {stack} is not deployed in {self.region}")
            raise CliError(
                "MissingOutput", f"stack {stack} has no output {key}: redeploy it with this version of sagemaker-tiers"
            )
        return value

    @property
    def groups(self) -> tuple[str, ...]:
        """The model package groups the registry's approval workflow watches."""
        raw = self.require("registry", "ModelPackageGroups")
        return tuple(name for name in raw.split(",") if name)

    def check_group(self, group: str) -> str:
        if group not in self.groups:
            raise CliError("UnknownGroup", f"unknown model package group {group!r}; the registry watches {list(self.groups)}")
        return group

    @property
    def parameter_prefix(self) -> str:
        return self.require("registry", "ParameterPrefix")

    def approved_model_parameter(self, group: str) -> str:
        return f"{self.parameter_prefix}/{group}/approved-model"


def _stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str] | None:
    """The deployed stack's outputs, or None when no such stack exists."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        info = error.response.get("Error", {})
        if info.get("Code") == "ValidationError" and "does not exist" in info.get("Message", ""):
            return None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def _missing_registry(stack: str, region: str) -> CliError:
    return CliError(
        "MissingStack",
        f"stack {stack} not found in {region}: deploy the app, or pass the --project, --region or --profile it was deployed with",
    )


def from_stacks(session: Any, project: str) -> Deployment:
    """The deployment whose stacks are ``<project>-<tier>`` in the session's region."""
    cloudformation = session.client("cloudformation")
    region = session.region_name
    stacks: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    for tier in TIERS:
        name = f"{project}-{tier}"
        found = _stack_outputs(cloudformation, name)
        if found is None:
            if tier == REQUIRED_TIER:
                raise _missing_registry(name, region)
            continue
        stacks[tier] = name
        outputs[tier] = found
    return Deployment(project=project, region=region, stacks=stacks, outputs=outputs)


def stacks_in_cdk_out(path: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{tier: (stack name, template Outputs)}`` of the app synthesized into ``path``."""
    manifest_file = path / "manifest.json"
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError) as error:
        raise CliError("BadCdkOut", f"{manifest_file} cannot be read as a cloud assembly manifest: {error}") from None
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties") or {}
        name = props.get("stackName") or artifact_id
        tier = next((t for t in TIERS if name.endswith(f"-{t}")), None)
        if tier is None:
            continue
        try:
            template = json.loads((path / props["templateFile"]).read_text())
        except (KeyError, OSError, ValueError) as error:
            raise CliError("BadCdkOut", f"the template of stack {name} in {path} cannot be read: {error}") from None
        found[tier] = (name, template.get("Outputs") or {})
    return found


def from_cdk_out(session: Any, path: Path) -> Deployment:
    """The deployment of the app synthesized into ``path``: stack names and outputs from its templates, values
    from the deployed stacks (a literal value in the template stands when the deployed stack lacks that output)."""
    synthesized = stacks_in_cdk_out(path)
    if REQUIRED_TIER not in synthesized:
        raise CliError("BadCdkOut", f"{path} holds no '<project>-registry' stack: is it the sagemaker-tiers app's cdk.out?")
    cloudformation = session.client("cloudformation")
    region = session.region_name
    registry_name = synthesized[REQUIRED_TIER][0]
    project = registry_name[: -len("-registry")]
    stacks: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    for tier, (name, template_outputs) in synthesized.items():
        deployed = _stack_outputs(cloudformation, name)
        if deployed is None:
            if tier == REQUIRED_TIER:
                raise _missing_registry(name, region)
            continue
        literal = {k: v["Value"] for k, v in template_outputs.items() if isinstance(v.get("Value"), str)}
        stacks[tier] = name
        outputs[tier] = {**literal, **deployed}
    return Deployment(project=project, region=region, stacks=stacks, outputs=outputs)
