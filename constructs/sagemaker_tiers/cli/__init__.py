"""The operator CLI ``sagemaker-tiers``: see and drive a deployed app from a terminal.

Install with ``pip install "sagemaker-tiers[cli]"``. This sub-package imports nothing from ``aws_cdk``: it reads the
deployed resources with boto3, finding them through the stacks' CloudFormation outputs (see :mod:`.discovery`).
"""
