"""The gates this library's own app synthesizes under, for your app too: one call turns them on.

- cdk-nag's AwsSolutions and Serverless packs (``pip install 'sagemaker-tiers[nag]'``), as CDK validation
  plugins: an unacknowledged finding fails ``app.synth()`` (and ``cdk synth``) and writes
  ``validation-report.json`` into the output directory. Every construct of this library acknowledges its own
  findings, each for one resource and with its reason, so the library adds no finding to your app.
- AWS Control Tower's proactive controls, through cdklabs' cfn-guard validator plugin
  (``cdklabs.cdk-validator-cfnguard``), when it is installed. The plugin is wrapped in
  :class:`~sagemaker_tiers.core.nag.FindingsAsErrors` (so its findings keep failing the synth once one of them is
  acknowledged), and :class:`~sagemaker_tiers.core.nag.UnseenReferenceAcknowledgments` acknowledges, resource by
  resource, the findings on values its rules cannot read (a key or ARN from another stack). The library's
  constructs acknowledge their own Control Tower findings too, each with its reason.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from aws_cdk import Aspects, Validations
from constructs import Construct

from sagemaker_tiers.core.nag import FindingsAsErrors, UnseenReferenceAcknowledgments

#: The cdk-nag packs every app of this project runs.
NAG_PACKS = ("AwsSolutions", "Serverless")
#: The Python module of cdklabs' cfn-guard validator plugin (PyPI ``cdklabs.cdk-validator-cfnguard``).
CFN_GUARD_MODULE = "cdklabs.cdk_validator_cfnguard"
CONTROL_TOWER = "ControlTower"


def add_gates(app: Construct, *, control_tower: bool | None = None) -> tuple[str, ...]:
    """Add the library's gates to ``app`` (an ``App``, or any scope: the gates then check that subtree).

    Example::

        app = App()
        add_gates(app)          # before or after adding stacks; they run at app.synth()
        MyStack(app, "Ml")
        app.synth()

    :param control_tower: Also run AWS Control Tower's proactive controls. Default (None): if the cfn-guard
        plugin is installed. True fails when it is not.
    :return: The gates added: ``("AwsSolutions", "Serverless")``, plus ``"ControlTower"``.
    :raises ImportError: cdk-nag is not installed, or ``control_tower=True`` and the plugin is not.
    """
    nag = _require("cdk_nag", "cdk-nag is not installed: pip install 'sagemaker-tiers[nag]'")
    plugins = [getattr(nag, f"{pack}Checks")(app) for pack in NAG_PACKS]
    added: list[str] = list(NAG_PACKS)
    if control_tower is not False:
        guard = _optional(CFN_GUARD_MODULE)
        if guard is None and control_tower:
            raise ImportError("control_tower=True needs cdklabs' cfn-guard plugin: pip install cdklabs.cdk-validator-cfnguard")
        if guard is not None:
            plugins.append(FindingsAsErrors(guard.CfnGuardValidator(control_tower_rules_enabled=True)))
            Aspects.of(app).add(UnseenReferenceAcknowledgments())
            added.append(CONTROL_TOWER)
    Validations.of(app).add_plugins(*plugins)
    return tuple(added)


def _require(module: str, message: str) -> ModuleType:
    found = _optional(module)
    if found is None:
        raise ImportError(message)
    return found


def _optional(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
