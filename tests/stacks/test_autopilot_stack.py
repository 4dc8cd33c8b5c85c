"""AutopilotStack: the example configuration on the foundation and registry stacks, its context keys and their
validation."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from sagemaker_tiers import ValidationError, add_gates
from stacks.autopilot_stack import AutopilotConfig, AutopilotStack
from stacks.config import read_config
from tests.conftest import app_context, base_stacks


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[AutopilotStack, Template, dict]:
    app = App(outdir=str(tmp_path_factory.mktemp("autopilot-stack")), context=app_context())
    # cdk-nag only: Control Tower's rules run once on the whole app (tests/stacks/test_app.py, `make synth`).
    add_gates(app, control_tower=False)
    config, foundation, registry = base_stacks(app)
    stack = AutopilotStack(app, f"{config.project_name}-autopilot", config=config, foundation=foundation, registry=registry)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template = Template.from_stack(stack)
    return stack, template, template.to_json()


def _definition(template_json: dict) -> str:
    (machine,) = [r for r in template_json["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    return json.dumps(machine["Properties"]["DefinitionString"])


def test_example_trains_churn_binary_classification_from_the_foundation_bucket(synthesized) -> None:  # noqa: ANN001
    stack, _, template_json = synthesized
    job = stack.autopilot
    assert job.dataset_prefix == "datasets/example-churn/"
    assert job.output_prefix == "autopilot/example-churn/"
    assert job.job_name_prefix == "example-churn"
    request = job.job_request
    assert request["AutoMLProblemTypeConfig"]["TabularJobConfig"]["TargetAttributeName"] == "churn"
    assert request["AutoMLProblemTypeConfig"]["TabularJobConfig"]["ProblemType"] == "BinaryClassification"
    # One inference container per candidate: what the example's serverless endpoint can host.
    assert request["AutoMLProblemTypeConfig"]["TabularJobConfig"]["Mode"] == "ENSEMBLING"
    assert request["AutoMLProblemTypeConfig"]["TabularJobConfig"]["CompletionCriteria"] == {"MaxAutoMLJobRuntimeInSeconds": 4 * 3600}
    assert request["AutoMLJobObjective"] == {"MetricName": "F1"}
    assert request["AutoMLJobInputDataConfig"][0]["ContentType"] == "text/csv;header=present"
    definition = _definition(template_json)
    # The foundation's bucket, key and network, the registry's group, imported across stacks.
    assert "datasets/example-churn/" in definition and "Fn::ImportValue" in definition
    assert '\\"ModelPackageGroupName\\":\\"example-churn\\"' in definition
    assert job.max_polls == (4 * 60 + 60) // 5  # (4 h job limit + 1 h) / 5-minute polls


def test_example_notifies_the_registry_administrators_and_has_no_automatic_trigger(synthesized) -> None:  # noqa: ANN001
    stack, template, template_json = synthesized
    assert not template.find_resources("AWS::SNS::Topic")  # uses the registry's admin topic
    assert not template.find_resources("AWS::Events::Rule")  # runs start by hand unless configured
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    for alarm in alarms.values():
        (action,) = alarm["Properties"]["AlarmActions"]
        assert "Fn::ImportValue" in action
    outputs = template_json["Outputs"]
    assert {"StateMachineArn", "OutputPrefix"} <= set(outputs)
    assert stack.tags.tag_values() == {"sagemaker-tiers:tier": "autopilot"}


def test_context_keys_configure_triggers_and_limits() -> None:
    app = App(context=app_context(autopilot_schedule="rate(7 days)", autopilot_trigger_on_new_data="true",
                                  autopilot_mode="ENSEMBLING", autopilot_algorithms="xgboost,lightgbm",
                                  autopilot_max_candidates="30", autopilot_poll_interval_minutes="10"))
    config, foundation, registry = base_stacks(app)
    stack = AutopilotStack(app, "autopilot", config=config, foundation=foundation, registry=registry)
    job = stack.autopilot
    assert job.schedule_rule is not None and job.new_data_rule is not None
    tabular = job.job_request["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert tabular["Mode"] == "ENSEMBLING"
    assert tabular["CandidateGenerationConfig"] == {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost", "lightgbm"]}]}
    assert tabular["CompletionCriteria"]["MaxCandidates"] == 30
    assert job.max_polls == 30


def test_the_longest_runtime_the_config_accepts_builds() -> None:
    """The config's runtime bound is the construct's poll bound: 124 h + 1 h at 5-minute polls is 1,500 polls."""
    app = App(context=app_context(autopilot_max_runtime_hours="124"))
    config, foundation, registry = base_stacks(app)
    stack = AutopilotStack(app, "autopilot", config=config, foundation=foundation, registry=registry)
    assert stack.autopilot.max_polls == 1500


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"autopilot_problem_type": "Ranking"}, "sagemaker-tiers:autopilot_problem_type must be one of"),
        ({"autopilot_dataset_format": "json"}, "sagemaker-tiers:autopilot_dataset_format must be one of 'csv', 'parquet'"),
        ({"autopilot_schedule": "every monday"}, "sagemaker-tiers:autopilot_schedule must be an EventBridge schedule expression"),
        ({"autopilot_max_runtime_hours": "0"}, "sagemaker-tiers:autopilot_max_runtime_hours must be a whole number between 1 and 720"),
        ({"autopilot_max_runtime_hours": "125"}, r"sagemaker-tiers:autopilot_max_runtime_hours must be at most 124 with sagemaker-tiers:autopilot_poll_interval_minutes=5 .*got 125"),
        ({"autopilot_job_name_prefix": "Example_Churn"}, "sagemaker-tiers:autopilot_job_name_prefix"),
        ({"autopilot_trigger_on_new_data": "yes"}, "sagemaker-tiers:autopilot_trigger_on_new_data must be true or false"),
    ],
)
def test_invalid_context_values_fail_naming_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        read_config(AutopilotConfig, App(context=app_context(**overrides)).node)


def test_group_must_be_one_of_the_registry_groups() -> None:
    app = App(context=app_context(autopilot_model_package_group="fraud"))
    config, foundation, registry = base_stacks(app)
    with pytest.raises(ValidationError, match=r"autopilot_model_package_group must be one of the registry's groups \['example-churn'\]"):
        AutopilotStack(app, "autopilot", config=config, foundation=foundation, registry=registry)


def test_algorithms_that_the_mode_does_not_allow_fail() -> None:
    app = App(context=app_context(autopilot_mode="HYPERPARAMETER_TUNING", autopilot_algorithms="catboost"))
    config, foundation, registry = base_stacks(app)
    with pytest.raises(ValidationError, match="mode 'HYPERPARAMETER_TUNING' must only name"):
        AutopilotStack(app, "autopilot", config=config, foundation=foundation, registry=registry)


def test_a_mode_with_multi_container_candidates_is_refused_for_a_serverless_endpoint_of_the_group() -> None:
    # HPO candidates are inference pipelines of 2-3 containers (autopilot-automate-model-development-container-output);
    # serverless endpoints host no inference pipelines (serverless-endpoints, feature exclusions).
    from stacks.app import check_autopilot_fits_endpoint
    from stacks.inference_stack import InferenceConfig

    check_autopilot_fits_endpoint(AutopilotConfig(), InferenceConfig())  # the example: ENSEMBLING, serverless
    for mode in ("AUTO", "HYPERPARAMETER_TUNING"):
        with pytest.raises(
            ValidationError,
            match=rf"sagemaker-tiers:autopilot_mode must be one of \['ENSEMBLING'\] while sagemaker-tiers:inference_group "
            rf"'example-churn' is served by a serverless endpoint .*got sagemaker-tiers:autopilot_mode='{mode}'",
        ):
            check_autopilot_fits_endpoint(AutopilotConfig(autopilot_mode=mode), InferenceConfig())
        # A real-time endpoint hosts pipelines; another group's or no endpoint is not concerned.
        check_autopilot_fits_endpoint(AutopilotConfig(autopilot_mode=mode), InferenceConfig(inference_instance_type="ml.m5.large"))
        check_autopilot_fits_endpoint(AutopilotConfig(autopilot_mode=mode), InferenceConfig(inference_enabled=False))
        check_autopilot_fits_endpoint(AutopilotConfig(autopilot_mode=mode, autopilot_model_package_group="fraud"), InferenceConfig())
