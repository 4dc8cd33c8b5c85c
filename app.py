#!/usr/bin/env python3
"""The sagemaker-tiers CDK app: every stack, environment-agnostic, gated by cdk-nag at synth."""

from aws_cdk import App

from stacks.app import add_nag_checks, build_app

app = App()
add_nag_checks(app)
build_app(app)
app.synth()
