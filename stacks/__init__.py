"""Deployable stacks composed from sagemaker_tiers constructs."""
