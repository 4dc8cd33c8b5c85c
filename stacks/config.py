"""Typed app configuration read from ``cdk.json`` context (or ``cdk synth -c key=value``).

Every key has a default that synthesizes as it is; an invalid value fails at synth with the key, the value
received and what is allowed. Values given with ``-c`` arrive as strings and are parsed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from constructs import Node

from sagemaker_tiers.core.validation import ValidationError, require_int_in_range, require_match, require_one_of, require_unique
from sagemaker_tiers.foundation.network import EGRESS_MODES, require_vpc_cidr
from sagemaker_tiers.registry.model_package_group import GROUP_NAME_PATTERN, GROUP_NAME_RULE

CONTEXT_PREFIX = "sagemaker-tiers:"


@dataclass(frozen=True)
class AppConfig:
    """The app's configuration; each field is the context key ``sagemaker-tiers:<field>``."""

    #: Prefix of stack names and the project tag.
    project_name: str = "sagemaker-tiers"
    #: How SageMaker workloads reach AWS APIs and the internet: "nat" or "endpoints".
    network_egress: str = "nat"
    #: CIDR of the new VPC.
    vpc_cidr: str = "10.40.0.0/16"
    #: Availability zones of the new VPC.
    max_azs: int = 2
    #: NAT gateways (egress "nat" only).
    nat_gateways: int = 1
    #: Days a replaced or deleted object version stays in the ML bucket.
    noncurrent_version_expiration_days: int = 90
    #: Administrators emailed for approvals (the placeholder synthesizes; set your own before deploying).
    admin_emails: tuple[str, ...] = ("ml-admin@example.com",)
    #: Model package groups the registry stack creates and the approval workflow watches.
    model_package_groups: tuple[str, ...] = ("example-churn",)
    #: Hours an emailed approval link can decide (0.25 h to 14 days).
    approval_link_ttl_hours: int = 72
    #: Minutes between scheduled reconciles (1-1440): the registry re-promotes every watched group and each
    #: endpoint's state machine re-checks what it serves, so an event EventBridge lost heals within this time.
    reconcile_interval_minutes: int = 60

    @classmethod
    def from_node(cls, node: Node) -> "AppConfig":
        """Read every key from the construct tree's context, falling back to the defaults."""
        return read_config(cls, node)

    def validate(self) -> None:
        key = CONTEXT_PREFIX
        require_match(
            key + "project_name",
            self.project_name,
            r"[a-z][a-z0-9-]{1,30}[a-z0-9]",
            "3-32 lowercase letters, digits or '-', starting with a letter",
        )
        require_one_of(key + "network_egress", self.network_egress, EGRESS_MODES)
        require_int_in_range(key + "max_azs", self.max_azs, minimum=2, maximum=6)
        require_int_in_range(key + "nat_gateways", self.nat_gateways, minimum=1, maximum=self.max_azs)
        require_int_in_range(
            key + "noncurrent_version_expiration_days", self.noncurrent_version_expiration_days, minimum=1, maximum=3650
        )
        require_int_in_range(key + "approval_link_ttl_hours", self.approval_link_ttl_hours, minimum=1, maximum=336)
        require_int_in_range(key + "reconcile_interval_minutes", self.reconcile_interval_minutes, minimum=1, maximum=1440)
        for name, values in (("admin_emails", self.admin_emails), ("model_package_groups", self.model_package_groups)):
            if not isinstance(values, tuple) or not all(isinstance(v, str) for v in values):
                raise ValidationError(f"{key}{name} must be a list of strings, got {values!r}")
        if not self.admin_emails:
            raise ValidationError(f"{key}admin_emails must name at least one address, got []")
        for group in self.model_package_groups:
            require_match(key + "model_package_groups", group, GROUP_NAME_PATTERN, "a list of names of " + GROUP_NAME_RULE)
        # SageMaker writes group ARNs in lower case: names differing only in case are one group.
        require_unique(key + "model_package_groups", [g.lower() for g in self.model_package_groups])
        require_vpc_cidr(key + "vpc_cidr", self.vpc_cidr, max_azs=self.max_azs, egress=self.network_egress)


C = TypeVar("C")


def read_config(cls: type[C], node: Node) -> C:
    """Build the frozen dataclass ``cls`` from context keys ``sagemaker-tiers:<field>`` and validate it.

    Tier stacks keep their own config dataclass (fields with defaults, a ``validate()`` method naming each key
    as ``sagemaker-tiers:<field>``) and read it with this function.
    """
    values: dict[str, Any] = {}
    for field in fields(cls):  # type: ignore[arg-type]
        raw = node.try_get_context(CONTEXT_PREFIX + field.name)
        if raw is not None:
            values[field.name] = _coerce(field.name, raw, field.type)
    config = cls(**values)
    config.validate()  # type: ignore[attr-defined]
    return config


def _coerce(name: str, raw: Any, type_name: Any) -> Any:
    """Turn a ``-c key=value`` string into the field's type; leave JSON values from cdk.json as they are."""
    type_name = getattr(type_name, "__name__", type_name)
    if type_name == "bool" and isinstance(raw, str):
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ValidationError(f"{CONTEXT_PREFIX}{name} must be true or false, got {raw!r}")
    if type_name == "float" and isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            raise ValidationError(f"{CONTEXT_PREFIX}{name} must be a number, got {raw!r}") from None
    if type_name == "int" and isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            raise ValidationError(f"{CONTEXT_PREFIX}{name} must be a whole number, got {raw!r}") from None
    if type_name == "tuple[str, ...]":
        if isinstance(raw, str):
            try:
                raw = json.loads(raw) if raw.startswith("[") else [v.strip() for v in raw.split(",") if v.strip()]
            except json.JSONDecodeError:
                raise ValidationError(f"{CONTEXT_PREFIX}{name} must be a JSON list or comma-separated, got {raw!r}") from None
        return tuple(raw) if isinstance(raw, list) else raw
    return raw
