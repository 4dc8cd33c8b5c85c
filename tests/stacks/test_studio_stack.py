"""The Studio stack with the base stacks: synthesizes from cdk.json's defaults, passes cdk-nag, reads its config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from sagemaker_tiers import ValidationError, add_gates
from stacks.config import read_config
from stacks.foundation_stack import FoundationStack
from stacks.studio_stack import StudioConfig, StudioStack
from tests.conftest import app_context, base_stacks


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudioStack, dict, Path]:
    outdir = tmp_path_factory.mktemp("studio-out")
    app = App(outdir=str(outdir), context=app_context())
    # cdk-nag only: Control Tower's rules run once on the whole app (tests/stacks/test_app.py, `make synth`).
    add_gates(app, control_tower=False)
    config, foundation, registry = base_stacks(app)
    stack = StudioStack(app, f"{config.project_name}-studio", config=config, foundation=foundation, registry=registry)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return stack, Template.from_stack(stack).to_json(), outdir


def test_no_unacknowledged_nag_finding(synthesized) -> None:
    _, _, outdir = synthesized
    report = json.loads((outdir / "validation-report.json").read_text())
    assert [v["ruleName"] for p in report["pluginReports"] for v in p["violations"]] == []


def test_defaults_build_domain_profiles_hub_canvas_and_idle_shutdown(synthesized) -> None:
    stack, template, _ = synthesized
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("AWS::SageMaker::Domain") == 1
    assert types.count("AWS::SageMaker::UserProfile") == 3
    assert types.count("AWS::SageMaker::Hub") == 1
    assert types.count("Custom::JumpStartHubModelReferences") == 1
    assert types.count("Custom::CanvasSettings") == 1  # one business analyst by default
    assert "Custom::StudioDomainCleanup" not in types  # retained by default
    assert set(template["Outputs"]) >= {"DomainId", "DomainUrl", "CuratedHubName"}
    assert stack.studio_config == StudioConfig()


def test_canvas_registers_into_the_registry_stacks_first_group(synthesized) -> None:
    stack, template, _ = synthesized
    (canvas,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::CanvasSettings"]
    assert canvas["Properties"]["Settings"]["ModelRegisterSettings"] == {"Status": "ENABLED"}
    analyst = next(r for p, r in stack.domain.roles.items() if p.value == "business-analyst")
    role_ref = {"Ref": stack.get_logical_id(analyst.role.node.default_child)}
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and role_ref in r["Properties"].get("Roles", [])
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    registers = [s for s in statements if s["Action"] == "sagemaker:CreateModelPackage"]
    # Canvas's own grant (pending approval also when Canvas sends no status) next to the personas' common one.
    (canvas_register,) = [s for s in registers if "StringEqualsIfExists" in s["Condition"]]
    assert "model-package/example-churn/*" in json.dumps(canvas_register["Resource"])
    assert canvas_register["Condition"] == {"StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    for register in registers:
        assert list(register["Condition"].values()) == [{"sagemaker:ModelApprovalStatus": "PendingManualApproval"}]


def _config(**context: object) -> StudioConfig:
    return read_config(StudioConfig, App(context=app_context(**context)).node)


def test_config_reads_cli_strings() -> None:
    config = _config(
        studio_user_profiles="ann=data-scientist,bo=business-analyst",
        studio_allowed_instance_types="ml.t3.medium,ml.g5.xlarge",
        studio_idle_timeout_minutes="120",
        studio_cleanup_on_delete="true",
        studio_shared_spaces="team=ann",
    )
    assert [(u.name, u.persona.value) for u in config.users()] == [("ann", "data-scientist"), ("bo", "business-analyst")]
    assert config.studio_idle_timeout_minutes == 120 and config.studio_cleanup_on_delete is True
    assert [(s.name, s.owner) for s in config.spaces()] == [("team", "ann")]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"studio_user_profiles": ["ann=wizard"]}, r"sagemaker-tiers:studio_user_profiles \(ann\) must be one of 'data-scientist'.*got 'wizard'"),
        ({"studio_allowed_instance_types": ["ml.t3.medium", "ml.x9.huge"]}, r"sagemaker-tiers:studio_allowed_instance_types must only name Studio app instance types.*'ml\.x9\.huge'"),
        ({"studio_idle_timeout_minutes": 300}, r"sagemaker-tiers:studio_idle_timeout_minutes must be a whole number between 60 and 240, got 300"),
        ({"studio_max_idle_timeout_minutes": 600000}, r"sagemaker-tiers:studio_max_idle_timeout_minutes must be a whole number between 60 and 525600"),
        ({"studio_default_instance_type": "ml.p5.48xlarge"}, r"sagemaker-tiers:studio_default_instance_type must be one of"),
        ({"studio_user_profiles": ["ann"]}, r"entries must look like 'name=persona'"),
        ({"studio_jumpstart_model_ids": ["a b"]}, r"sagemaker-tiers:studio_jumpstart_model_ids must be"),
        ({"studio_shared_spaces": ["team=nobody"]}, r"sagemaker-tiers:studio_shared_spaces owner must be one of the user profiles"),
        ({"studio_shared_spaces": ["team=example-ml-engineer"]}, r"sagemaker-tiers:studio_shared_spaces owner must be a data-scientist profile .*got 'team=example-ml-engineer'"),
        ({"studio_canvas_idle_hours": 0}, r"sagemaker-tiers:studio_canvas_idle_hours must be a whole number between 1 and 168"),
    ],
)
def test_bad_config_fails_at_synth_naming_the_key(context, message) -> None:
    with pytest.raises(ValidationError, match=message):
        _config(**context)


def test_canvas_on_puts_its_upload_cors_rule_on_the_foundation_ml_bucket(synthesized) -> None:
    # The app's Canvas workspace is a prefix of the foundation stack's ML bucket; Canvas users upload local files
    # from the browser only if that bucket carries Canvas's CORS rule:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-set-up-local-upload.html
    stack, _, _ = synthesized
    (foundation,) = [c for c in stack.node.scope.node.children if isinstance(c, FoundationStack)]
    bucket = Template.from_stack(foundation).to_json()["Resources"][foundation.get_logical_id(foundation.bucket.node.default_child)]
    (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == ["https://*.sagemaker.aws"]
    assert rule["AllowedMethods"] == ["POST", "PUT", "GET", "HEAD", "DELETE"]
