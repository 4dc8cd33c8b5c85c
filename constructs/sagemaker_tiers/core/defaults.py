"""Secure defaults shared by every tier: one place to read and change them."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs

#: Data and keys outlive the stack: deleting a stack never deletes a model or a dataset.
DATA_REMOVAL_POLICY = RemovalPolicy.RETAIN

#: CloudWatch Logs retention for every log group the library creates (flow logs, Lambda, API, state machines).
LOG_RETENTION = logs.RetentionDays.ONE_YEAR

#: Noncurrent object versions in the ML bucket expire after this long.
NONCURRENT_VERSION_EXPIRATION = Duration.days(90)

#: Server access logs are kept this long in the log bucket.
ACCESS_LOG_EXPIRATION = Duration.days(365)

#: Tags applied to every resource of the app (stacks add their own tier tag).
PROJECT_TAG_KEY = "sagemaker-tiers:project"
TIER_TAG_KEY = "sagemaker-tiers:tier"

#: Python runtime of every Lambda function the library deploys (the newest aws-cdk-lib knows; cdk-nag L1 asks for it).
LAMBDA_RUNTIME_NAME = "python3.14"
