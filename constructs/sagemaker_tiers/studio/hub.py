"""A private, curated JumpStart hub: only the pretrained models the platform team allowlists."""

from __future__ import annotations

from typing import Any
import re
from collections.abc import Sequence

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, CustomResource, Duration, Fn, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import ValidationError, require_customer_managed_key, require_match, require_unique
from sagemaker_tiers.operations.widgets import graph
from sagemaker_tiers.studio import _functions

MODEL_ID_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
HUB_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
PUBLIC_HUB = "SageMakerPublicHub"
MAX_MODELS = 100
#: Regions where curated private hubs are generally available in Studio (il-central-1 offers them through the SDK
#: only, so Studio users there would not see the hub):
#: https://docs.aws.amazon.com/sagemaker/latest/dg/jumpstart-curated-hubs-admin-guide.html
PRIVATE_HUB_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-northeast-2",
    "ap-south-1", "ap-southeast-1", "ap-southeast-2",
)


class CuratedHub(Construct):
    """A private JumpStart hub (``AWS::SageMaker::Hub``) holding only allowlisted JumpStart models.

    Each allowlisted model id becomes a *hub content reference* to SageMaker's public hub. CloudFormation has no
    resource for hub content, so a custom resource (``studio_hub_content.py``) calls
    ``CreateHubContentReference`` / ``DeleteHubContentReference`` on create, update (adds the new ids, removes the
    dropped ones) and delete. Users granted with :meth:`grant_use` see and fine-tune only these models: their role
    can read this hub and the public hub content of exactly these model ids, nothing else of JumpStart.

    Example::

        hub = CuratedHub(self, "Hub", encryption_key=key,
                         model_ids=["huggingface-text2text-flan-t5-base", "pytorch-ic-mobilenet-v2"])
        hub.grant_use(data_scientist_role)

    :param model_ids: JumpStart model ids to offer (1-100, letters, digits and '-'), e.g.
        ``"huggingface-text2text-flan-t5-base"``.
    :param encryption_key: KMS key of the handler's logs, environment and failure queue.
    :param hub_name: Hub name. Default: generated from the construct path.
    :param description: Hub description. Default: "JumpStart models approved by the platform team".
    :param failure_queue: Queue for handler invocations that failed every retry. Default: a new encrypted queue.
    :param alarm_topic: Topic the handler's alarms notify. Default: none (alarms without actions).
    :param removal_policy: What happens to the hub when it leaves the stack. Default: DESTROY (it holds only
        references to public models, no data; the references are deleted first).
    :param gated_model_ids: Allowlisted models the platform team knows carry an end-user license agreement (gated
        JumpStart models, such as Meta's Llama models). Constructs that use one of them as code
        (``sagemaker_tiers.jumpstart``) fail at synth unless they accept its EULA explicitly; every other model's
        EULA is still checked at run time from its hub content document (``GatedBucket``). Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_ids: Sequence[str],
        encryption_key: kms.IKey,
        hub_name: str | None = None,
        description: str = "JumpStart models approved by the platform team",
        failure_queue: sqs.IQueue | None = None,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        gated_model_ids: Sequence[str] = (),
    ) -> None:
        if isinstance(model_ids, str) or not isinstance(model_ids, Sequence) or not 1 <= len(model_ids) <= MAX_MODELS:
            raise ValidationError(f"model_ids must be a list of 1-{MAX_MODELS} JumpStart model ids, got {model_ids!r}")
        for model_id in model_ids:
            require_match("model_ids", model_id, MODEL_ID_PATTERN, "a list of JumpStart model ids (1-63 letters, digits or '-')")
        require_unique("model_ids", list(model_ids))
        if isinstance(gated_model_ids, str) or not isinstance(gated_model_ids, Sequence):
            raise ValidationError(f"gated_model_ids must be a list of allowlisted model ids, got {gated_model_ids!r}")
        for model_id in gated_model_ids:
            if model_id not in model_ids:
                raise ValidationError(
                    f"gated_model_ids must name models of model_ids ({', '.join(model_ids)}), got {model_id!r}"
                )
        require_customer_managed_key("encryption_key", encryption_key)
        if hub_name is not None:
            require_match("hub_name", hub_name, HUB_NAME_PATTERN, "1-63 letters, digits or '-', starting and ending with a letter or digit")
            if hub_name == PUBLIC_HUB:
                raise ValidationError(f"hub_name must not be SageMaker's public hub name, got {hub_name!r}")
        require_match("description", description, r"[^\x00-\x1f]{1,1023}", "1-1023 printable characters")
        region = Stack.of(scope).region
        if not Token.is_unresolved(region) and region not in PRIVATE_HUB_REGIONS:
            raise ValidationError(
                f"CuratedHub needs a region with private JumpStart hubs (PRIVATE_HUB_REGIONS: {', '.join(PRIVATE_HUB_REGIONS)}), "
                f"got the stack's region {region!r}"
            )
        super().__init__(scope, id)
        if Token.is_unresolved(region):
            # An environment-agnostic stack learns its region only at deployment: a template rule stops the
            # deployment before anything is created, naming the region, instead of failing half-way at the hub.
            CfnRule(
                self,
                "PrivateHubRegion",
                assertions=[
                    CfnRuleAssertion(
                        assert_=Fn.condition_contains(list(PRIVATE_HUB_REGIONS), Aws.REGION),
                        assert_description=(
                            "This stack has a curated JumpStart hub, and private hubs exist only in "
                            + ", ".join(PRIVATE_HUB_REGIONS)
                            + ". Deploy to one of them, or configure no hub (sagemaker-tiers:studio_jumpstart_model_ids = [])."
                        ),
                    )
                ],
            )

        self.model_ids: tuple[str, ...] = tuple(model_ids)
        #: Allowlisted models known (at synth) to need an explicit EULA acceptance.
        self.gated_model_ids: tuple[str, ...] = tuple(gated_model_ids)
        self.hub_name = hub_name or Names.unique_resource_name(self, max_length=63, separator="-")
        self._resource = sagemaker.CfnHub(
            self, "Resource", hub_name=self.hub_name, hub_description=description, hub_display_name="Curated models"
        )
        self._resource.apply_removal_policy(removal_policy)
        self.hub_arn = self._resource.attr_hub_arn

        self.failure_queue = failure_queue or _functions.failure_queue(self, "FailedInvocations", encryption_key, alarm_topic)
        self.function = _functions.handler_function(
            self,
            "ReferencesHandler",
            handler="studio_hub_content.handler",
            description="Keeps the curated JumpStart hub's model references equal to the allowlist",
            key=encryption_key,
            queue=self.failure_queue,
            topic=alarm_topic,
            timeout=Duration.minutes(5),
        )
        stack = Stack.of(self)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateHubContentReference", "sagemaker:DeleteHubContentReference"],
                resources=[self._hub_arn(), self._reference_arns(), *self.public_model_arns()],
            )
        )
        acknowledge(
            self.function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The handler adds and removes model references of this one hub only; their names are the allowlisted "
            "model ids, which change with configuration.",
            applies_to=f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:hub-content/{self.hub_name}/ModelReference/*",
        )
        self.references = CustomResource(
            self,
            "ModelReferences",
            service_token=self.function.function_arn,
            resource_type="Custom::JumpStartHubModelReferences",
            properties={
                "HubName": self.hub_name,
                "ModelIds": list(self.model_ids),
                "Partition": stack.partition,
                "Region": stack.region,
            },
            service_timeout=Duration.minutes(10),
        )
        self.references.node.add_dependency(self._resource)
        # The handler's permissions exist before CloudFormation first invokes it, and stay until the last delete.
        self.references.node.add_dependency(self.function.role)

    def _hub_arn(self) -> str:
        stack = Stack.of(self)
        return f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:hub/{self.hub_name}"

    def _reference_arns(self) -> str:
        stack = Stack.of(self)
        return f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:hub-content/{self.hub_name}/ModelReference/*"

    def allows(self, model_id: str) -> bool:
        """True when ``model_id`` is one of the allowlisted models."""
        return model_id in self.model_ids

    def public_model_arns(self) -> list[str]:
        """Public hub content ARNs of the allowlisted models (exactly these, no wildcard)."""
        stack = Stack.of(self)
        return [
            f"arn:{stack.partition}:sagemaker:{stack.region}:aws:hub-content/{PUBLIC_HUB}/Model/{m}" for m in self.model_ids
        ]

    def _public_hub_arn(self) -> str:
        stack = Stack.of(self)
        return f"arn:{stack.partition}:sagemaker:{stack.region}:aws:hub/{PUBLIC_HUB}"

    def grant_use(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` browse this hub and read its allowlisted models, nothing else of JumpStart.

        Adds: ``ListHubs`` (no resource-level permission); ``DescribeHub`` / ``ListHubContents`` on this hub and
        on SageMaker's public hub (Studio and the SDK read the public hub a reference points to);
        ``DescribeHubContent`` / ``ListHubContentVersions`` on both hubs (IAM's reference requires the hub resource
        type next to the content), on this hub's references and on the public hub content of exactly the
        allowlisted models, unversioned and versioned (``<model>/<version>``: SageMaker resolves a reference to a
        versioned content ARN before it authorizes ``DescribeHubContent``); and read access to JumpStart's regional
        artifact bucket. Fine-tuning then runs with the training permissions the grantee already has. Deploying
        is not granted: no Studio persona may create endpoints.
        """
        stack = Stack.of(self)
        hubs = [self._hub_arn(), self._public_hub_arn()]
        models = self.public_model_arns()
        iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:ListHubs"], resource_arns=["*"])
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:DescribeHub", "sagemaker:ListHubContents"], resource_arns=hubs
        )
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:DescribeHubContent", "sagemaker:ListHubContentVersions"],
            resource_arns=[*hubs, self._reference_arns(), *models, *[f"{m}/*" for m in models]],
        )
        # JumpStart's open models are files in AWS's public regional bucket, under paths that are not scoped by
        # model id (training scripts, prepacked inference artifacts): the grant is read-only on that bucket.
        artifacts = f"jumpstart-cache-prod-{stack.region}"
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[f"arn:{stack.partition}:s3:::{artifacts}/*"]
        )
        role = grantee.grant_principal
        if isinstance(role, Construct):
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                f"The curated hub {self.hub_name}'s references are named by the allowlisted model ids; read-only "
                "(DescribeHubContent/ListHubContentVersions).",
                applies_to=f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:hub-content/{self.hub_name}/ModelReference/*",
            )
            for model_id in self.model_ids:
                acknowledge(
                    role,
                    "AwsSolutions-IAM5",
                    f"Versions of the allowlisted JumpStart model {model_id} are published by AWS; SageMaker resolves "
                    "a reference to one of them before DescribeHubContent (read-only).",
                    applies_to=f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:aws:hub-content/{PUBLIC_HUB}/Model/{model_id}/*",
                )
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "JumpStart's open model artifacts and training scripts are files in AWS's public regional JumpStart "
                "bucket under paths not scoped by model id; GetObject only (read).",
                applies_to="Resource::arn:<AWS::Partition>:s3:::jumpstart-cache-prod-<AWS::Region>/*",
            )
        return grant

    def metric_reference_errors(self, **props: Any) -> cw.Metric:
        """Errors of the handler that keeps the references (each is a failed create/update/delete)."""
        return self.function.metric_errors(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_failed_invocations(self, **props: Any) -> cw.Metric:
        """Handler invocations that failed every retry (visible messages in the failure queue)."""
        return self.failure_queue.metric_approximate_number_of_messages_visible(**{"period": Duration.minutes(5), "statistic": "Maximum", **props})

    def widgets(self) -> list[cw.IWidget]:
        """Dashboard widget: errors of the handler keeping the hub's model references, and its failed invocations."""
        return [
            graph(
                f"JumpStart hub {self.hub_name}: reference errors",
                {"Handler errors": self.metric_reference_errors(), "Failed invocations": self.metric_failed_invocations()},
                width=8,
                unit="count",
            )
        ]


def model_id_is_valid(model_id: str) -> bool:
    """True for a string shaped like a JumpStart model id."""
    return re.fullmatch(MODEL_ID_PATTERN, model_id) is not None
