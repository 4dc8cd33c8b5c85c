"""The whole app: synthesizes with no account, passes cdk-nag, and the gates catch planted defects."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3

from sagemaker_tiers.core.nag import CONTROL_TOWER_RULES
from scripts.request_shapes import check_cloud_assembly
from stacks.app import TiersApp, add_nag_checks, build_app
from tests.conftest import ROOT, app_context

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[TiersApp, Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context=app_context())
    add_nag_checks(app)
    tiers = build_app(app)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return tiers, outdir


def test_every_stack_is_environment_agnostic(synthesized) -> None:
    tiers, outdir = synthesized
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {k: v for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"}
    assert tiers.foundation.stack_name in stacks
    assert {v["environment"] for v in stacks.values()} == {"aws://unknown-account/unknown-region"}


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized) -> None:
    _, outdir = synthesized
    report = json.loads((outdir / "validation-report.json").read_text())
    violations = [v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]]
    assert violations == []


def test_every_acknowledgment_names_its_rule_and_a_specific_reason(synthesized) -> None:
    _, outdir = synthesized
    report = json.loads((outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        for suppressed in plugin.get("suppressedViolations", []):
            assert suppressed["acknowledgedId"].split("::", 1)[1].startswith(suppressed["ruleName"])
            assert len(suppressed["reason"]) >= 40, suppressed


def test_nag_and_control_tower_gates_fail_synth_on_planted_defects(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    add_nag_checks(app)
    planted = Stack(app, "Planted")
    s3.Bucket(planted, "PlainBucket")  # no SSL-only policy, no access logs
    subnet = ec2.CfnSubnet(planted, "Subnet", vpc_id="vpc-0123456789abcdef0", cidr_block="10.0.0.0/24")
    subnet.map_public_ip_on_launch = True  # a subnet that maps public IPs
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    findings = {
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"] for v in plugin["violations"] for c in v["violatingConstructs"]
    }
    assert {("AwsSolutions-S1", "Planted/PlainBucket/Resource"), ("AwsSolutions-S10", "Planted/PlainBucket/Resource")} <= findings
    assert (CONTROL_TOWER_RULES["CT.EC2.PR.11"], "Planted/Subnet") in findings


def _template(outdir: Path, stack: Stack) -> dict:
    return json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())


def test_cfn_lint_passes_the_app_and_catches_a_planted_error(synthesized, tmp_path: Path) -> None:
    tiers, outdir = synthesized
    lint = [str(ROOT / ".venv" / "bin" / "cfn-lint"), "--config-file", str(ROOT / ".cfnlintrc.yaml"), "--"]
    clean = subprocess.run([*lint, *map(str, outdir.glob("*.template.json"))], capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout

    template = _template(outdir, tiers.foundation)
    vpc = next(r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::VPC")
    vpc["Properties"]["CidrBlok"] = vpc["Properties"].pop("CidrBlock")  # planted: misspelt property
    planted = tmp_path / "planted.template.json"
    planted.write_text(json.dumps(template))
    result = subprocess.run([*lint, str(planted)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "E30" in result.stdout


def test_request_shape_gate_passes_the_app_and_catches_a_planted_member(synthesized, tmp_path: Path) -> None:
    tiers, outdir = synthesized
    clean = check_cloud_assembly(outdir)
    assert [str(f) for f in clean.findings] == []
    assert clean.state_machines == 3 and clean.tasks_checked >= 30 and clean.paths_checked >= 200
    # Canvas settings, hub references, one Studio portal-settings resource per default profile (3), the registry group.
    assert clean.custom_resources_checked == 6 and clean.handler_calls_checked >= 20

    # Planted in a copy of the Autopilot template (and its metadata): a misspelt request member.
    stack = tiers.autopilot.artifact_id
    text = (outdir / f"{stack}.template.json").read_text()
    assert text.count('\\"AutoMLJobName.$\\"') >= 2
    planted = text.replace('\\"AutoMLJobName.$\\"', '\\"AutoMlJobName.$\\"', 1)
    (tmp_path / f"{stack}.template.json").write_text(planted)
    shutil.copy(outdir / f"{stack}.metadata.json", tmp_path)
    findings = [str(f) for f in check_cloud_assembly(tmp_path, handlers=[]).findings]
    assert findings == [
        f"{stack} {stack}/Autopilot/Resource/Resource state 'CreateAutoMLJob' AutoMlJobName: CreateAutoMLJobV2Request "
        "has no member 'AutoMlJobName' (the member is 'AutoMLJobName')",
        f"{stack} {stack}/Autopilot/Resource/Resource state 'CreateAutoMLJob' AutoMLJobName: required member of "
        "CreateAutoMLJobV2Request is missing",
    ]


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov's own venv is created by `make test` before pytest runs")
def test_checkov_catches_a_planted_failure(synthesized, tmp_path: Path) -> None:
    tiers, outdir = synthesized
    template = _template(outdir, tiers.foundation)
    for resource in template["Resources"].values():
        resource.get("Metadata", {}).pop("checkov", None)  # planted: drop the documented skip
    (tmp_path / "planted.template.json").write_text(json.dumps(template))
    shutil.copy(ROOT / ".checkov.yaml", tmp_path / "checkov.yaml")
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(tmp_path / "checkov.yaml"), "-d", str(tmp_path), "--compact"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "CKV_AWS_18" in result.stdout


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov's own venv is created by `make test` before pytest runs")
def test_checkov_scans_the_image_dockerfiles_and_catches_a_root_image_without_its_reason(synthesized, tmp_path: Path) -> None:
    from sagemaker_tiers.training import EXAMPLE_IMAGE_DIRECTORY

    tiers, outdir = synthesized
    staged = [p for p in outdir.glob("asset.*/Dockerfile")]
    assert staged, "the training image folder is staged in cdk.out, where the gate scans it"
    asset = tmp_path / "asset.planted"
    asset.mkdir()
    dockerfile = (EXAMPLE_IMAGE_DIRECTORY / "Dockerfile").read_text()
    (asset / "Dockerfile").write_text("\n".join(l for l in dockerfile.splitlines() if "checkov:skip" not in l))  # planted
    shutil.copy(ROOT / ".checkov.yaml", tmp_path / "checkov.yaml")

    def checkov(folder: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(CHECKOV), "--config-file", str(tmp_path / "checkov.yaml"), "-d", str(folder), "--compact"],
            capture_output=True, text=True, cwd=tmp_path,
        )

    planted = checkov(asset)
    assert planted.returncode != 0 and "CKV_DOCKER_3" in planted.stdout
    real = checkov(staged[0].parent)
    assert real.returncode == 0, real.stdout
    assert "dockerfile scan results" in real.stdout and "Skipped checks: 1" in real.stdout


def test_registry_stack_watches_the_configured_groups_with_the_key_from_foundation(synthesized) -> None:
    tiers, outdir = synthesized
    template = _template(outdir, tiers.registry)
    groups = [r for r in template["Resources"].values() if r["Type"] == "Custom::ModelPackageGroup"]
    assert [g["Properties"]["ModelPackageGroupName"] for g in groups] == list(tiers.config.model_package_groups)
    assert all(g["Properties"]["Tags"] == [{"Key": "sagemaker-tiers:project", "Value": tiers.config.project_name},
                                           {"Key": "sagemaker-tiers:tier", "Value": "registry"}] for g in groups)
    promote = next(
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == "approval_promote.handler"
    )
    assert promote["Properties"]["Environment"]["Variables"]["PARAMETER_PREFIX"] == f"/{tiers.config.project_name}/registry"
    topic = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Topic")
    assert "Fn::ImportValue" in json.dumps(topic["Properties"]["KmsMasterKeyId"])  # the foundation's key
    assert {"ApprovalApiUrl", "AdminTopicArn"} <= set(template["Outputs"])


def test_bench_scaling_contexts_build_the_whole_app(tmp_path: Path) -> None:
    # `make bench` synthesizes the app with 1 and 50 groups; every tier must accept that configuration (3 stands in for 50).
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    for count in (1, 3):
        tiers = build_app(App(outdir=str(tmp_path / str(count)), context=app_context(**bench.scaling_context(count))))
        assert len(tiers.registry.groups) == count
        assert tiers.inference.endpoints.keys() == {"group-0"}


def test_the_operator_cli_finds_every_output_it_reads(synthesized) -> None:
    # sagemaker_tiers.cli reads these outputs of the deployed stacks; a renamed or dropped output breaks it.
    from sagemaker_tiers.cli import discovery, status

    tiers, outdir = synthesized
    found = discovery.stacks_in_cdk_out(outdir)
    assert set(found) == set(discovery.TIERS)
    outputs = {tier: set(template_outputs) for tier, (_, template_outputs) in found.items()}
    reads = {
        ("registry", "ApprovalApiUrl"), ("registry", "ParameterPrefix"), ("registry", "ModelPackageGroups"),
        ("inference", "EndpointName"), ("inference", "DeployedModelParameter"), ("inference", "ModelPackageGroup"),
        ("training", "RunInputRules"), ("autopilot", "StateMachineArn"), ("operations", "DashboardUrl"),
        *status.DEAD_LETTER_OUTPUTS, *status.STATE_MACHINE_OUTPUTS,
    }
    # The training and Autopilot queues exist only with a trigger (schedule or new data).
    optional = {("training", "DeadLetterQueueUrl")} if tiers.training.pipeline.dead_letter_queue is None else set()
    if tiers.autopilot.autopilot.dead_letter_queue is None:
        optional.add(("autopilot", "DeadLetterQueueUrl"))
    # The JumpStart example is off by default (tests/stacks/test_jumpstart_example.py turns it on).
    assert tiers.studio.jumpstart == {}
    optional |= {
        ("studio", "JumpStartRegistrationStateMachineArn"), ("studio", "JumpStartDeadLetterQueueUrl"),
        ("studio", "JumpStartFineTuningStateMachineArn"), ("studio", "JumpStartFineTuningDeadLetterQueueUrl"),
    }
    assert {(tier, key) for tier, key in reads - optional if key not in outputs[tier]} == set()
    registry = found["registry"][1]
    assert registry["ModelPackageGroups"]["Value"] == ",".join(tiers.config.model_package_groups)
    assert registry["ParameterPrefix"]["Value"] == f"/{tiers.config.project_name}/registry"
    # `train start` validates against this output: the pipeline's own rules.
    assert json.loads(found["training"][1]["RunInputRules"]["Value"]) == tiers.training.pipeline.run_input_rules()


def test_the_operator_cli_reports_the_depth_of_every_queue_of_the_app(synthesized) -> None:
    # `status` reads DEAD_LETTER_OUTPUTS; every SQS queue of the app is a dead-letter or failed-invocations queue,
    # so each must be one of those outputs (the Studio tier's two were not, before the JumpStart/dashboard wave).
    from sagemaker_tiers.cli import discovery, status

    _, outdir = synthesized
    found = discovery.stacks_in_cdk_out(outdir)
    reported = {
        (found[tier][0], found[tier][1][key]["Value"]["Ref"])
        for tier, key in status.DEAD_LETTER_OUTPUTS if tier in found and key in found[tier][1]
    }
    queues = {
        (path.name.removesuffix(".template.json"), logical_id)
        for path in outdir.glob("*.template.json")
        for logical_id, resource in json.loads(path.read_text())["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    assert queues and queues == reported


def test_every_alarm_that_notifies_a_topic_may_publish_to_it_and_use_its_key(synthesized) -> None:
    # An SNS topic policy replaces SNS's default one; each alarm's topic must allow cloudwatch.amazonaws.com for that
    # alarm (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html), and CloudWatch must be
    # able to use the topic's KMS key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
    from fnmatch import fnmatchcase

    from tests.sfn_support import ACCOUNT, REGION, resolve

    _, outdir = synthesized
    templates = {p.name: json.loads(p.read_text()) for p in outdir.glob("*.template.json")}
    exports = {
        output["Export"]["Name"]: (name, output["Value"])
        for name, template in templates.items()
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }

    def referenced(template_name: str, value: dict) -> tuple[str, str]:
        """(template, logical id) of a Ref or GetAtt, or of the one behind an imported export."""
        if "Fn::ImportValue" in value:
            template_name, value = exports[value["Fn::ImportValue"]]
        return template_name, value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]

    def rendered(value):  # noqa: ANN001, ANN202
        return resolve(value, {})

    checked = 0
    for name, template in templates.items():
        for alarm_id, alarm in template["Resources"].items():
            if alarm["Type"] != "AWS::CloudWatch::Alarm":
                continue
            alarm_arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm['Properties'].get('AlarmName', alarm_id)}"
            for action in alarm["Properties"].get("AlarmActions", []):
                topic_template, topic_id = referenced(name, action)
                resources = templates[topic_template]["Resources"]
                assert resources[topic_id]["Type"] == "AWS::SNS::Topic", (alarm_id, action)
                policies = [r for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy" and {"Ref": topic_id} in r["Properties"]["Topics"]]
                allowed = [
                    s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
                    if s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and "sns:Publish" in s["Action"]
                    and s["Resource"] == {"Ref": topic_id}
                    and rendered(s["Condition"]["StringEquals"]["aws:SourceAccount"]) == ACCOUNT
                    and fnmatchcase(alarm_arn, rendered(s["Condition"]["ArnLike"]["aws:SourceArn"]))
                ]
                assert policies and allowed, f"{alarm_id} of {name}: its topic {topic_id} does not let CloudWatch publish"
                key_template, key_id = referenced(topic_template, resources[topic_id]["Properties"]["KmsMasterKeyId"])
                key_policy = templates[key_template]["Resources"][key_id]["Properties"]["KeyPolicy"]
                assert any(
                    s["Effect"] == "Allow" and "cloudwatch.amazonaws.com" in json.dumps(s["Principal"])
                    and {"kms:Decrypt", "kms:GenerateDataKey"} <= set(s["Action"])
                    and rendered(s["Condition"]["StringEquals"]["aws:SourceAccount"]) == ACCOUNT
                    for s in key_policy["Statement"]
                ), f"CloudWatch cannot use the key of {topic_id}"
                checked += 1
    assert checked >= 11  # every alarm of every tier notifies the administrators


def test_the_endpoint_reads_model_data_where_training_and_autopilot_write_it(synthesized) -> None:
    tiers, outdir = synthesized
    policies = json.dumps(
        [r["Properties"]["PolicyDocument"] for r in _template(outdir, tiers.inference)["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    )
    for prefix in (tiers.training.pipeline.output_prefix, tiers.autopilot.autopilot.output_prefix):
        assert f"/{prefix}*" in policies, prefix
