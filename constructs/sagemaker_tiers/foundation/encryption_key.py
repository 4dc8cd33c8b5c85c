"""The customer-managed KMS key that encrypts every tier's data, logs, topics and queues."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.validation import require_duration, require_match


#: What SageMaker does with a customer key on a principal's behalf (jobs, endpoints, Studio): exact actions only.
SAGEMAKER_KEY_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


class MlEncryptionKey(kms.Key):
    """A customer-managed KMS key (an ``aws_kms.Key``) with rotation on and a key policy scoped per service.

    The key policy lets the account administer the key through IAM (CDK's default) and lets AWS services use
    it only where they need to:

    * CloudWatch Logs, only for log groups of this account and region (encryption context condition), and to
      describe the key (DescribeKey carries no encryption context);
    * EventBridge and CloudWatch alarms, only to deliver to this account's encrypted SNS topics and SQS queues
      (``aws:SourceAccount`` condition);
    * SNS, only to deliver to this account's encrypted SQS queues;
    * SageMaker, only through SageMaker in this region on behalf of this account's principals
      (``kms:ViaService`` and ``kms:CallerAccount`` conditions), which principals still need an IAM grant
      for (see :meth:`grant_sagemaker_use`).

    No principal may create a grant on the key except for an AWS resource: ``kms:CreateGrant`` is denied unless
    an AWS service integrated with KMS makes the call (``kms:GrantIsForAWSResource``) or the caller is a service
    principal (AWS Control Tower control CT.KMS.PR.3).

    Example::

        key = MlEncryptionKey(self, "Key")
        key.grant_sagemaker_use(training_role)

    :param alias: Alias name without the ``alias/`` prefix. Default: no alias (CloudFormation names the key).
    :param description: Key description. Default: "sagemaker-tiers data key".
    :param pending_window: Waiting period before a scheduled deletion, 7-30 days. Default: 30 days.
    :param removal_policy: What happens to the key when it leaves the stack. Default: RETAIN (data encrypted
        with it stays readable after the stack is deleted).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alias: str | None = None,
        description: str = "sagemaker-tiers data key",
        pending_window: Duration | None = None,
        removal_policy: RemovalPolicy = defaults.DATA_REMOVAL_POLICY,
    ) -> None:
        pending_window = pending_window or Duration.days(30)
        require_duration("pending_window", pending_window, minimum=Duration.days(7), maximum=Duration.days(30))
        if alias is not None:
            require_match(
                "alias",
                alias,
                r"(?!aws/)(?!alias/)[A-Za-z0-9/_-]{1,250}",
                "1-250 characters of letters, digits, '/', '_' or '-', without the 'alias/' prefix and not "
                "starting with 'aws/'",
            )
        require_match("description", description, r"[^\x00-\x1f]{0,8192}", "at most 8192 printable characters")

        super().__init__(
            scope,
            id,
            description=description,
            enable_key_rotation=True,
            pending_window=pending_window,
            removal_policy=removal_policy,
            alias=alias,
        )
        self._add_service_statements()

    def _add_service_statements(self) -> None:
        region = Aws.REGION
        account = Aws.ACCOUNT_ID
        use_actions = ["kms:Decrypt", "kms:GenerateDataKey"]
        source_account = {"StringEquals": {"aws:SourceAccount": account}}
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                    "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{Aws.PARTITION}:logs:{region}:{account}:log-group:*"
                    }
                },
            )
        )
        # DescribeKey carries no encryption context (IAM documents no kms:EncryptionContext key for it), so under
        # the condition above it could never be allowed; it reads key metadata only.
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsToDescribeTheKey",
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
            )
        )
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeAndAlarmsToEncryptedTopicsAndQueues",
                principals=[
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                ],
                actions=use_actions,
                resources=["*"],
                conditions=source_account,
            )
        )
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSnsToEncryptedQueues",
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=use_actions,
                resources=["*"],
                conditions=source_account,
            )
        )
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowUseThroughSageMakerOnly",
                principals=[iam.AccountRootPrincipal()],
                actions=list(SAGEMAKER_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"sagemaker.{region}.amazonaws.com",
                        "kms:CallerAccount": account,
                    }
                },
            )
        )

        # CT.KMS.PR.3: grants on this key only for AWS resources, i.e. only when an AWS service integrated with KMS
        # creates the grant on a principal's behalf (SageMaker jobs, endpoints and Studio do) or a service principal
        # calls. https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
        # https://docs.aws.amazon.com/controltower/latest/controlreference/kms-rules.html#ct-kms-pr-3-description
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyGrantsExceptForAwsResources",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={
                    "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
                },
            )
        )

    def grant_sagemaker_use(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` use the key, but only through SageMaker in this region (jobs, endpoints, Studio).

        Adds an IAM statement on the grantee with a ``kms:ViaService`` condition; nothing is added to the key
        policy.
        """
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(SAGEMAKER_KEY_ACTIONS),
            resource_arns=[self.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sagemaker.{Stack.of(self).region}.amazonaws.com"}},
        )

