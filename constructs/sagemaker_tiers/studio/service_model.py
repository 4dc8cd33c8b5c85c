"""SageMaker's own enums for Studio, copied from botocore's service model, and what CloudFormation lags behind.

The values the SageMaker API accepts are the source of truth: :data:`APP_INSTANCE_TYPES` is the ``AppInstanceType``
enum (without the pseudo type ``system``), :data:`ML_TOOLS` the ``MlTools`` enum and :data:`APP_TYPES` the
``AppType`` enum of ``botocore.session.get_session().get_service_model("sagemaker")`` at the pinned botocore
(1.44.8). The library does not depend on botocore at run time, so they are copied here;
``tests/studio/test_service_model.py`` compares them with the installed botocore and fails when SageMaker's
model changes.

CloudFormation validates ``AWS::SageMaker::Domain`` / ``UserProfile`` properties against its own resource schema,
which lags the API: the values below under ``CLOUDFORMATION_LAGS_*`` are in the API's enum but not (yet) in the
CloudFormation schema cfn-lint ships, so a template carrying them fails cfn-lint (E3030) and CloudFormation's
model validation. The same test derives those sets from cfn-lint's schema and fails when they change. Studio's
portal settings therefore hide what CloudFormation accepts; the lagging tools and types stay visible in the UI
(IAM still refuses apps on instance types outside the allowlist) until CloudFormation's schema catches up.
"""

from __future__ import annotations

#: ``AppInstanceType`` without ``system``: what ``CreateApp``, ``CreateSpace`` and ``HiddenInstanceTypes`` accept.
APP_INSTANCE_TYPES: tuple[str, ...] = (
    "ml.t3.micro", "ml.t3.small", "ml.t3.medium", "ml.t3.large", "ml.t3.xlarge", "ml.t3.2xlarge", "ml.m5.large",
    "ml.m5.xlarge", "ml.m5.2xlarge", "ml.m5.4xlarge", "ml.m5.8xlarge", "ml.m5.12xlarge", "ml.m5.16xlarge",
    "ml.m5.24xlarge", "ml.m5d.large", "ml.m5d.xlarge", "ml.m5d.2xlarge", "ml.m5d.4xlarge", "ml.m5d.8xlarge",
    "ml.m5d.12xlarge", "ml.m5d.16xlarge", "ml.m5d.24xlarge", "ml.c5.large", "ml.c5.xlarge", "ml.c5.2xlarge",
    "ml.c5.4xlarge", "ml.c5.9xlarge", "ml.c5.12xlarge", "ml.c5.18xlarge", "ml.c5.24xlarge", "ml.p3.2xlarge",
    "ml.p3.8xlarge", "ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.g4dn.xlarge", "ml.g4dn.2xlarge", "ml.g4dn.4xlarge",
    "ml.g4dn.8xlarge", "ml.g4dn.12xlarge", "ml.g4dn.16xlarge", "ml.r5.large", "ml.r5.xlarge", "ml.r5.2xlarge",
    "ml.r5.4xlarge", "ml.r5.8xlarge", "ml.r5.12xlarge", "ml.r5.16xlarge", "ml.r5.24xlarge", "ml.g5.xlarge",
    "ml.g5.2xlarge", "ml.g5.4xlarge", "ml.g5.8xlarge", "ml.g5.16xlarge", "ml.g5.12xlarge", "ml.g5.24xlarge",
    "ml.g5.48xlarge", "ml.g6.xlarge", "ml.g6.2xlarge", "ml.g6.4xlarge", "ml.g6.8xlarge", "ml.g6.12xlarge",
    "ml.g6.16xlarge", "ml.g6.24xlarge", "ml.g6.48xlarge", "ml.g6e.xlarge", "ml.g6e.2xlarge", "ml.g6e.4xlarge",
    "ml.g6e.8xlarge", "ml.g6e.12xlarge", "ml.g6e.16xlarge", "ml.g6e.24xlarge", "ml.g6e.48xlarge",
    "ml.geospatial.interactive", "ml.p4d.24xlarge", "ml.p4de.24xlarge", "ml.trn1.2xlarge", "ml.trn1.32xlarge",
    "ml.trn1n.32xlarge", "ml.p5.48xlarge", "ml.p5en.48xlarge", "ml.p6-b200.48xlarge", "ml.m6i.large",
    "ml.m6i.xlarge", "ml.m6i.2xlarge", "ml.m6i.4xlarge", "ml.m6i.8xlarge", "ml.m6i.12xlarge", "ml.m6i.16xlarge",
    "ml.m6i.24xlarge", "ml.m6i.32xlarge", "ml.m7i.large", "ml.m7i.xlarge", "ml.m7i.2xlarge", "ml.m7i.4xlarge",
    "ml.m7i.8xlarge", "ml.m7i.12xlarge", "ml.m7i.16xlarge", "ml.m7i.24xlarge", "ml.m7i.48xlarge", "ml.c6i.large",
    "ml.c6i.xlarge", "ml.c6i.2xlarge", "ml.c6i.4xlarge", "ml.c6i.8xlarge", "ml.c6i.12xlarge", "ml.c6i.16xlarge",
    "ml.c6i.24xlarge", "ml.c6i.32xlarge", "ml.c7i.large", "ml.c7i.xlarge", "ml.c7i.2xlarge", "ml.c7i.4xlarge",
    "ml.c7i.8xlarge", "ml.c7i.12xlarge", "ml.c7i.16xlarge", "ml.c7i.24xlarge", "ml.c7i.48xlarge", "ml.r6i.large",
    "ml.r6i.xlarge", "ml.r6i.2xlarge", "ml.r6i.4xlarge", "ml.r6i.8xlarge", "ml.r6i.12xlarge", "ml.r6i.16xlarge",
    "ml.r6i.24xlarge", "ml.r6i.32xlarge", "ml.r7i.large", "ml.r7i.xlarge", "ml.r7i.2xlarge", "ml.r7i.4xlarge",
    "ml.r7i.8xlarge", "ml.r7i.12xlarge", "ml.r7i.16xlarge", "ml.r7i.24xlarge", "ml.r7i.48xlarge", "ml.m6id.large",
    "ml.m6id.xlarge", "ml.m6id.2xlarge", "ml.m6id.4xlarge", "ml.m6id.8xlarge", "ml.m6id.12xlarge",
    "ml.m6id.16xlarge", "ml.m6id.24xlarge", "ml.m6id.32xlarge", "ml.c6id.large", "ml.c6id.xlarge",
    "ml.c6id.2xlarge", "ml.c6id.4xlarge", "ml.c6id.8xlarge", "ml.c6id.12xlarge", "ml.c6id.16xlarge",
    "ml.c6id.24xlarge", "ml.c6id.32xlarge", "ml.r6id.large", "ml.r6id.xlarge", "ml.r6id.2xlarge", "ml.r6id.4xlarge",
    "ml.r6id.8xlarge", "ml.r6id.12xlarge", "ml.r6id.16xlarge", "ml.r6id.24xlarge", "ml.r6id.32xlarge",
    "ml.p5.4xlarge", "ml.g7.2xlarge", "ml.g7.4xlarge", "ml.g7.8xlarge", "ml.g7.12xlarge", "ml.g7.24xlarge",
    "ml.g7.48xlarge", "ml.g7e.2xlarge", "ml.g7e.4xlarge", "ml.g7e.8xlarge", "ml.g7e.12xlarge", "ml.g7e.24xlarge",
    "ml.g7e.48xlarge",
)
#: ``MlTools``: what ``HiddenMlTools`` accepts.
ML_TOOLS: tuple[str, ...] = (
    "DataWrangler", "FeatureStore", "EmrClusters", "AutoMl", "Experiments", "Training", "ModelEvaluation",
    "Pipelines", "Models", "JumpStart", "InferenceRecommender", "Endpoints", "Projects", "InferenceOptimization",
    "PerformanceEvaluation", "LakeraGuard", "Comet", "DeepchecksLLMEvaluation", "Fiddler", "HyperPodClusters",
    "RunningInstances", "Datasets", "Evaluators",
)
#: ``AppType``: what ``HiddenAppTypes`` accepts.
APP_TYPES: tuple[str, ...] = (
    "JupyterServer", "KernelGateway", "DetailedProfiler", "TensorBoard", "CodeEditor", "JupyterLab",
    "RStudioServerPro", "RSessionGateway", "Canvas",
)

#: In the API's ``AppInstanceType`` enum but not in CloudFormation's ``AWS::SageMaker::Domain`` schema.
CLOUDFORMATION_LAGS_INSTANCE_TYPES: frozenset[str] = frozenset(
    {"ml.g7.2xlarge", "ml.g7.4xlarge", "ml.g7.8xlarge", "ml.g7.12xlarge", "ml.g7.24xlarge", "ml.g7.48xlarge"}
)
#: In the API's ``MlTools`` enum but not in CloudFormation's schema.
CLOUDFORMATION_LAGS_ML_TOOLS: frozenset[str] = frozenset({"RunningInstances", "Datasets", "Evaluators"})
#: In the API's ``AppType`` enum but not in CloudFormation's schema (Studio Classic's kernel and RStudio sessions).
CLOUDFORMATION_LAGS_APP_TYPES: frozenset[str] = frozenset({"KernelGateway", "RSessionGateway"})
