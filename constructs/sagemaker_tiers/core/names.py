"""Names that differ per stack instance, so a stack deployed again never meets what its predecessor left behind.

(Fixed names two constructs of one app would both create are caught by ``core.validation.claim_unique``.)
"""

from __future__ import annotations

import json

from aws_cdk import Fn, Names, Stack
from constructs import Construct


def unique_per_stack_instance(scope: Construct, max_length: int) -> str:
    """``<construct path>-<first 8 hex digits of the stack's ID>``: stable across updates, new for each stack created.

    For a resource whose name CloudFormation needs but which outlives its stack: one retained on delete that
    CloudFormation cannot import back (a Studio domain's primary identifier is its read-only ID), or one whose
    deletion is asynchronous (a state machine stays DELETING while an execution waits). A stack ID ends in a UUID,
    ``arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>``
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html).
    """
    stack_uuid = Fn.select(2, Fn.split("/", Stack.of(scope).stack_id))
    return Fn.join("-", [_prefix(scope, max_length), Fn.select(0, Fn.split("-", stack_uuid))])


def unique_per_stack_instance_nag_text(scope: Construct, max_length: int) -> str:
    """How cdk-nag prints :func:`unique_per_stack_instance` in a finding (for ``acknowledge(applies_to=...)``)."""
    suffix = {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}
    return f"{_prefix(scope, max_length)}-{json.dumps(suffix, separators=(',', ':'))}"


def _prefix(scope: Construct, max_length: int) -> str:
    return Names.unique_resource_name(scope, max_length=max_length - 9, separator="-")
