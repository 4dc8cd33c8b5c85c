"""Calls-against-policy gate: every AWS call the product makes under moto, evaluated against the role that makes it.

moto enforces no IAM, so the tests record what IAM would see:

* :func:`install` wraps botocore's ``BaseClient._make_api_call`` (every client of every session goes through it,
  including the clients moto's Step Functions interpreter creates for ``aws-sdk`` and optimized integrations)
  and records a call when the product makes it:

  - a **handler call**: a frame of the call stack runs a file of a Lambda handler folder
    (``constructs/sagemaker_tiers/<tier>/<name>_handlers/``); the outermost such module is the Lambda handler
    module, and the function that deploys it (``Handler: "<module>.<function>"``) has the role;
  - a **state machine call**: the call runs in moto's execution worker; the definition it executes is matched
    to the synthesized template it was rendered from (:func:`register_definition`, called by
    ``tests.sfn_support.state_machine_definition``), whose ``RoleArn`` names the role.

  - an **operator call**: the client's direct caller is the operator CLI (``constructs/sagemaker_tiers/cli/``);
    the operator's identity has the managed policy the app outputs as ``OperatorPolicyArn``
    (:class:`sagemaker_tiers.operations.OperatorPolicy`). The CLI's one request that is not a botocore call, the
    SigV4-signed ``POST /decisions``, is recorded when it is signed, as ``execute-api:Invoke`` on the route.

  Calls made by the tests themselves (creating moto fixtures, reading results, and fakes that stand in for
  SageMaker inside an execution's thread: the client's direct caller is test code, not moto's interpreter) are
  neither and are not recorded.
* :func:`write` saves the calls at the end of the session (``.iam-calls.json``); ``scripts/iam_gate.py``
  evaluates them against the fresh ``cdk.out`` (handler roles) and the templates the executions came from
  (state machine roles), prints a summary per role, and fails on any denied or unmapped call.

Evaluation (:class:`Evaluator`): the IAM action is the service's signing name (``monitoring`` is IAM's
``cloudwatch``) plus the operation, or the reference's name where they differ (:data:`ACTION_NAMES`); the
resource ARN is built from the action's ARN templates in the Service Authorization Reference with the request's
members; a statement allows the call if its action matches (wildcards too), its resource matches the ARN (or
is ``*``), and its conditions hold. Conditions on keys the request carries (``sagemaker:ModelApprovalStatus``,
``iam:PassedToService``, ...) are evaluated; others are assumed to hold and the call counts as *partial*. A call
that passes a role (``RoleArn``) also needs ``iam:PassRole`` on it. Handler calls are evaluated against the
app's configuration, whose resource names differ from the tests' (group ``example-churn`` vs ``churn``): a
resource that matches only by shape (same ARN with other names) counts as partial, never as full.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.iam_support import ACCOUNT, SEGMENT, Reference, Stack, Templates, as_list, patterns_intersect

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "constructs" / "sagemaker_tiers"
#: The operator CLI's modules: their calls are made with the operator's identity (the app's OperatorPolicyArn).
CLI = HANDLERS / "cli"
#: The stack output naming the operator policy (stacks/operator_stack.py).
OPERATOR_OUTPUT = "OperatorPolicyArn"
CALLS_FILE = Path(os.environ.get("IAM_CALLS_FILE", ROOT / ".iam-calls.json"))
#: SageMaker's public JumpStart hub, owned by the account "aws".
PUBLIC_HUB = "SageMakerPublicHub"
#: An unresolved cross-stack value in a test's template: matches any text (the evaluation is then partial).
ANY = "\x01"

#: Signing names that are not IAM's service prefix.
SERVICE_PREFIXES = {"monitoring": "cloudwatch"}
#: Operations whose IAM action has another name (Service Authorization Reference).
ACTION_NAMES = {
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
}

_lock = threading.Lock()
_calls: list[dict[str, Any]] = []
_definitions: dict[str, dict[str, Any]] = {}  # canonical definition JSON -> where it was rendered from
_created_state_machines: dict[str, str] = {}  # state machine ARN -> canonical definition, as created
_test_functions: dict[str, list[dict[str, Any]]] = {}  # handler module -> functions in templates tests synthesized
_state = {"test": "", "installed": False}


# -- recording --------------------------------------------------------------------------------------------------


def install() -> None:
    """Record product calls from now on (idempotent)."""
    if _state["installed"]:
        return
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def recording(self, operation_name, api_params):  # noqa: ANN001
        caller = _caller()
        if caller is not None:
            model = self.meta.service_model
            entry = {
                "test": _state["test"],
                "caller": caller,
                "service": SERVICE_PREFIXES.get(model.signing_name, model.signing_name),
                "operation": operation_name,
                "region": self.meta.region_name,
                "params": _jsonable(api_params),
            }
            with _lock:
                _calls.append(entry)
        result = original(self, operation_name, api_params)
        if operation_name == "CreateStateMachine" and self.meta.service_model.service_name == "stepfunctions":
            # Which definition an execution runs, even after moto forgot it (an execution outliving its test).
            with _lock:
                _created_state_machines[result["stateMachineArn"]] = _canonical(json.loads(api_params["definition"]))
        return result

    BaseClient._make_api_call = recording

    from botocore.auth import SigV4Auth

    original_sign = SigV4Auth.add_auth

    def signing(self, request):  # noqa: ANN001
        if self._service_name == "execute-api":
            caller = _caller()
            if caller is not None:
                with _lock:
                    _calls.append(_signed_api_call(caller, self._region_name, request.method, request.url))
        return original_sign(self, request)

    SigV4Auth.add_auth = signing
    _state["installed"] = True


def _signed_api_call(caller: dict[str, Any], region: str, method: str, url: str) -> dict[str, Any]:
    """A SigV4-signed request to an API Gateway API as the ``execute-api:Invoke`` call IAM authorizes: on
    ``arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<method>/<path>``
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html).
    A URL that is not an execute-api host (a test's local stand-in) gets the placeholder API id ``stand-in``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    api_id = host.split(".", 1)[0] if ".execute-api." in host else "stand-in"
    path = parts.path.lstrip("/")
    return {
        "test": _state["test"],
        "caller": caller,
        "service": "execute-api",
        "operation": "Invoke",
        "region": region,
        "params": {"Route": f"arn:aws:execute-api:{region}:{ACCOUNT}:{api_id}/{path.split('/', 1)[0]}/{method}/{path.split('/', 1)[-1]}"},
    }


def recorded() -> list[dict[str, Any]]:
    """A copy of the calls recorded so far."""
    with _lock:
        return json.loads(json.dumps(_calls))


def set_test(nodeid: str) -> None:
    _state["test"] = nodeid


def register_definition(template: Mapping[str, Any], logical_id: str, physical: Mapping[str, Any], definition: dict) -> None:
    """Remember that ``definition`` is state machine ``logical_id`` of ``template`` rendered with ``physical``.

    Stores the state machine's role and that role's policy statements, resolved with the same physical values.
    """
    key = _canonical(definition)
    if key in _definitions:
        return
    resources = template["Resources"]
    role_arn = resources[logical_id]["Properties"]["RoleArn"]
    role_id = role_arn["Fn::GetAtt"][0] if isinstance(role_arn, dict) and "Fn::GetAtt" in role_arn else None
    statements = role_statements(template, role_id) if role_id else []
    resolved = [_resolve_physical(s, physical) for s in statements]
    path = resources[role_id].get("Metadata", {}).get("aws:cdk:path", "") if role_id else ""
    _definitions[key] = {
        "state_machine": logical_id,
        "role": role_id or json.dumps(role_arn),
        "role_path": path,
        "statements": resolved,
        "sync": _sync_tasks(definition),
    }


def register_template(template: Mapping[str, Any], stack_name: str) -> None:
    """Remember the Lambda functions of a template a test synthesized, for handlers the app does not deploy by
    default (``StudioDomain(cleanup_on_delete=True)``'s cleanup function)."""
    resources = template.get("Resources", {})
    stack = Stack(stack_name, dict(template))
    templates = Templates(templates={stack_name: stack.template})
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        handler = resource.get("Properties", {}).get("Handler")
        role = resource["Properties"].get("Role")
        if not (isinstance(handler, str) and isinstance(role, dict) and "Fn::GetAtt" in role):
            continue
        module = handler.rsplit(".", 1)[0]
        if not list(HANDLERS.glob(f"*/*_handlers/{module}.py")) or module in _test_functions:
            continue
        role_id = role["Fn::GetAtt"][0]
        try:
            statements = [templates.resolve(templates.stacks[stack_name], st) for st in role_statements(resources, role_id)]
        except Exception:  # noqa: BLE001 - a template this gate cannot resolve is simply not used
            continue
        with _lock:
            _test_functions[module] = [{"where": f"{stack_name}/{role_id} (role of {logical_id}, as a test synthesized it)", "statements": statements}]


def write(path: Path = CALLS_FILE, *, complete: bool = False, tests: int = 0) -> None:
    """Save the recorded calls and the state machine roles they map to.

    :param complete: Whether the run was the whole suite and green (the gate refuses a partial recording).
    :param tests: How many tests the run collected (reported by the gate).
    """
    with _lock:
        calls = list(_calls)
    roles: dict[str, Any] = {}
    for call in calls:
        caller = call["caller"]
        if caller["kind"] == "state-machine":
            found = _definitions.get(caller.pop("definition"))
            if found is None:
                caller["unmapped"] = "the state machine definition was not rendered by tests.sfn_support.state_machine_definition"
                continue
            key = hashlib.sha1(json.dumps(found["statements"], sort_keys=True).encode()).hexdigest()[:12]
            role_key = f"{found['role']}@{key}"
            roles[role_key] = {"path": found["role_path"], "statements": found["statements"], "sync": found["sync"]}
            caller["role"] = role_key
    with _lock:
        functions = dict(_test_functions)
    path.write_text(json.dumps(
        {"calls": calls, "state_machine_roles": roles, "test_functions": functions, "complete": complete, "tests": tests},
        indent=1, sort_keys=True,
    ))


def _caller() -> dict[str, Any] | None:
    frame = sys._getframe(2)
    modules: list[str] = []
    env = None
    direct = None  # the code that called the client: moto's interpreter for a task, test code for a test's fake
    while frame is not None:
        filename = frame.f_code.co_filename
        if direct is None and not any(part in filename for part in ("/botocore/", "/boto3/", "iam_calls.py")):
            direct = filename
        if "_handlers" in filename and filename.startswith(str(HANDLERS)):
            relative = str(Path(filename).relative_to(ROOT))
            if relative not in modules:
                modules.insert(0, relative)  # outermost first
        elif env is None and "moto/stepfunctions/parser/asl/" in filename and "env" in frame.f_locals:
            env = frame.f_locals["env"]  # the Environment of the execution whose task makes this call
        frame = frame.f_back
    if modules:
        if direct is not None and direct.startswith(str(ROOT / "tests")):
            return None  # a test's own call (a fake or a probe run from inside a handler), not the product's
        return {"kind": "handler", "modules": modules}
    if env is None and direct is not None and direct.startswith(str(CLI) + os.sep):
        return {"kind": "operator", "module": str(Path(direct).relative_to(ROOT))}
    if env is not None and direct is not None and "moto/stepfunctions/parser/" in direct:
        state_machine = env.states.context_object.context_object_data["StateMachine"]
        return {"kind": "state-machine", "definition": _definition_of(state_machine["Id"]), "name": state_machine["Name"]}
    return None


def _definition_of(state_machine_arn: str) -> str:
    """The definition moto runs for ``state_machine_arn`` (tasks run in threads of their own), canonical JSON."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    with _lock:
        if state_machine_arn in _created_state_machines:
            return _created_state_machines[state_machine_arn]
    _, _, _, region, account, _ = state_machine_arn.split(":", 5)
    backend = stepfunctions_parser_backends[account][region]
    try:
        return _canonical(json.loads(backend.describe_state_machine(state_machine_arn).definition))
    except Exception as error:  # noqa: BLE001 - reported as an unmapped call, never breaks the execution
        return f"unknown state machine {state_machine_arn}: {error}"


def _canonical(definition: Any) -> str:
    return json.dumps(definition, sort_keys=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray)):
        return "<bytes>"
    return str(value)


def role_statements(template: Mapping[str, Any], role_id: str) -> list[dict]:
    """Statements of every identity policy attached to role ``role_id`` in ``template`` (inline and managed)."""
    out: list[dict] = []
    resources = template.get("Resources", template)
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role_id} in props.get("Roles", []):
            out += as_list(props["PolicyDocument"].get("Statement"))
    for inline in resources.get(role_id, {}).get("Properties", {}).get("Policies", []):
        out += as_list(inline["PolicyDocument"].get("Statement"))
    return out


def _resolve_physical(value: Any, physical: Mapping[str, Any]) -> Any:
    """Resolve with the test's physical values; anything they do not cover (imports) matches any text."""
    from tests.sfn_support import PSEUDO

    if isinstance(value, list):
        return [_resolve_physical(v, physical) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return str(PSEUDO.get(arg) or physical.get(arg, ANY))
        if key == "Fn::GetAtt":
            name = ".".join(arg) if isinstance(arg, list) else arg
            return str(physical.get(name, ANY))
        if key == "Fn::Join":
            return arg[0].join(str(_resolve_physical(p, physical)) for p in arg[1])
        if key == "Fn::ImportValue":
            return ANY
        if key == "Fn::Sub":
            template, variables = (arg, {}) if isinstance(arg, str) else arg
            variables = {k: _resolve_physical(v, physical) for k, v in variables.items()}
            return re.sub(
                r"\$\{([^}!]+)\}",
                lambda m: str(variables.get(m.group(1)) or PSEUDO.get(m.group(1)) or physical.get(m.group(1), ANY)),
                template,
            )
        if key.startswith("Fn::"):
            return ANY
    return {k: _resolve_physical(v, physical) for k, v in value.items()}


# -- .sync integrations --------------------------------------------------------------------------------------

#: What a ``.sync`` task needs besides its API action: Step Functions polls the job and watches it through a
#: managed EventBridge rule. https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html and
#: https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html
SYNC_EXTRA = {
    "sagemaker:createTrainingJob": (["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"], "SageMakerTrainingJobs"),
    "sagemaker:createProcessingJob": (["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"], "SageMakerProcessingJobs"),
    "sagemaker:createTransformJob": (["sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"], "SageMakerTransformJobs"),
    "sagemaker:createHyperParameterTuningJob": (
        ["sagemaker:DescribeHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob", "sagemaker:ListTrainingJobsForHyperParameterTuningJob"],
        "SageMakerTuningJobs",
    ),
    "states:startExecution": (["states:DescribeExecution", "states:StopExecution"], "StepFunctionsExecution"),
}


def _sync_tasks(definition: Mapping[str, Any]) -> list[str]:
    """The ``arn:aws:states:::<service>:<action>.sync`` resources of a definition (nested states too)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            resource = value.get("Resource")
            if value.get("Type") == "Task" and isinstance(resource, str) and resource.endswith(".sync"):
                found.append(resource)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(definition)
    return sorted(set(found))


def sync_calls(resource: str) -> list[dict[str, Any]]:
    """The calls Step Functions makes with the state machine's role to run a ``.sync`` task to its end."""
    integration = resource.split(":::", 1)[1].rsplit(".sync", 1)[0]
    if integration not in SYNC_EXTRA:
        return [{"unknown_sync": resource}]
    actions, rule = SYNC_EXTRA[integration]
    calls = [{"action": a, "resource": None} for a in actions]
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/StepFunctionsGetEventsFor{rule}Rule"
    calls += [{"action": a, "resource": rule_arn} for a in ("events:PutTargets", "events:PutRule", "events:DescribeRule")]
    return calls


# -- evaluation -----------------------------------------------------------------------------------------------


@dataclass
class Decision:
    allowed: bool
    full: bool
    action: str
    resource: str
    reasons: list[str] = field(default_factory=list)  # why partial, or what is missing


class Evaluator:
    """Evaluates calls against identity-policy statements, with the Service Authorization Reference."""

    def __init__(self, reference: Reference) -> None:
        self.reference = reference

    # action and resource of a call

    def action_of(self, service: str, operation: str) -> str:
        name = ACTION_NAMES.get((service, operation), operation)
        expanded = self.reference.expand(f"{service}:{name}")
        if len(expanded) != 1:
            raise LookupError(f"{service}:{operation} maps to no IAM action in the reference (add it to ACTION_NAMES)")
        return expanded[0].qualified

    def resource_of(self, action: str, params: Mapping[str, Any], region: str) -> tuple[str | None, str | None]:
        """(ARN, resource type) the call authorizes on; ("*", None) for an action without resource types;
        (None, None) when the request does not say (then any statement resource of a fitting type is accepted,
        partially)."""
        service, name = action.split(":", 1)
        act = self.reference.action(service, name)
        if not act.resource_types:
            return "*", None
        templates = self.reference.arn_templates(act)
        arns = [v for v in _strings(params) if v.startswith("arn:")]
        for kind in act.resource_types:  # an ARN in the request that is of one of the action's types
            for arn in arns:
                if self.reference.resource_type_of(act, arn) == kind:
                    return arn, kind
        for kind in act.resource_types:
            arn = _fill(templates[kind], params, region)
            if arn is not None:
                return arn, kind
        return None, None

    # statements

    def evaluate(self, action: str, resource: str | None, context: Mapping[str, Any], statements: list[dict], *, names_may_differ: bool) -> Decision:
        decision = Decision(False, True, action, resource or "<not in the request>")
        candidates = []
        allowed_by: Decision | None = None
        denied = False
        deny_unknown: list[str] = []
        for statement in statements:
            if not _action_matches(statement, action):
                continue
            match, exact, why = self._resource_matches(statement, action, resource, names_may_differ)
            if not match:
                candidates.append(f"{_label(statement)} (resource {json.dumps(statement.get('Resource'))})")
                continue
            holds, unknown, failed = _conditions(statement.get("Condition") or {}, context)
            if statement.get("Effect") == "Deny":
                if holds and unknown:  # a Deny is only certain when its conditions are known to hold
                    deny_unknown.append(f"{_label(statement)} not evaluated ({', '.join(unknown)})")
                    continue
                if not holds:
                    continue
            elif not holds:
                candidates.append(f"{_label(statement)} (condition {failed})")
                continue
            if statement.get("Effect") == "Deny":
                denied = True
                decision.reasons.append(f"denied by {_label(statement)}")
                continue
            reasons = ([why] if not exact else []) + [f"condition {k} not evaluated" for k in unknown]
            if allowed_by is None or (not reasons and allowed_by.reasons):
                allowed_by = Decision(True, not reasons, action, decision.resource, reasons)
        if denied:
            return decision
        if allowed_by is not None:
            if deny_unknown:
                allowed_by.full = False
                allowed_by.reasons += deny_unknown
            return allowed_by
        decision.reasons = [f"no statement allows {action} on {_show(decision.resource)}"] + (
            [f"statements with the action: {'; '.join(candidates)}"] if candidates else [f"no statement has {action}"]
        )
        return decision

    def _resource_matches(self, statement: dict, action: str, resource: str | None, names_may_differ: bool) -> tuple[bool, bool, str]:
        patterns = [str(r) for r in as_list(statement.get("Resource"))]
        if "*" in patterns:
            return True, True, ""
        if resource == "*":
            return False, True, ""
        service, name = action.split(":", 1)
        act = self.reference.action(service, name)
        if resource is None:
            kinds = [k for k in act.resource_types if any(self.reference.resource_fits(act, p) == k for p in patterns)]
            return bool(kinds), False, "the request names no resource; a statement resource of the action's type matched"
        for pattern in patterns:
            if _glob(pattern).fullmatch(resource):
                return True, ANY not in pattern, "a statement resource with an unresolved cross-stack part matched"
        if names_may_differ:
            kind = self.reference.resource_type_of(act, resource)
            template = self.reference.arn_templates(act).get(kind) if kind else None
            if template and any(patterns_intersect(p.replace(ANY, "*"), template) for p in patterns):
                return True, False, f"matched by resource type ({kind}) only: the test's resource names differ from the app's configuration"
        return False, True, ""


def _label(statement: dict) -> str:
    return f"statement {statement.get('Sid') or json.dumps(statement.get('Action'))}"


def _show(value: str) -> str:
    return value.replace(SEGMENT, "<generated>").replace(ANY, "<import>")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _flat(params: Mapping[str, Any]) -> dict[str, str]:
    """Top-level string members by lower-cased name, plus a few derived ones."""
    out = {k.lower(): v for k, v in params.items() if isinstance(v, str)}
    return out


def _fill(template: str, params: Mapping[str, Any], region: str) -> str | None:
    flat = _flat(params)
    values: dict[str, str] = {"partition": "aws", "region": region, "account": ACCOUNT}
    if flat.get("hubname") == PUBLIC_HUB:
        # SageMaker's public JumpStart hub and its content belong to the account "aws" (the HubName pattern of
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeHubContent.html: (\d{12}|aws)).
        values["account"] = "aws"

    def lookup(var: str) -> str | None:
        low = var.lower()
        if low in values:
            return values[low]
        for candidate in (low, low.replace("jobjobname", "jobname"), low + "name", low.removesuffix("name"), "name" if low.endswith("name") else ""):
            if candidate and candidate in flat:
                value = flat[candidate]
                return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
        if low == "bucketname" and "bucket" in flat:
            return flat["bucket"]
        if low == "objectname" and "key" in flat:
            return flat["key"]
        if low == "modelpackagename" and "modelpackagegroupname" in flat:
            # CreateModelPackage creates version <group>/<n> (SageMaker lower-cases the group in the ARN)
            return flat["modelpackagegroupname"].lower() + "/1"
        if low == "parameternamewithoutleadingslash" and "name" in flat:
            return flat["name"].lstrip("/")
        if low == "secretid" and "secretid" in flat:
            return flat["secretid"]
        if low == "id" and "stackname" in flat and not flat["stackname"].startswith("arn:"):
            # DescribeStacks by name: IAM authorizes stack/<name>/<id>; the ID is CloudFormation's, any one will do
            return "00000000-0000-0000-0000-000000000000"
        return None

    out = []
    for i, part in enumerate(re.split(r"\$\{(\w+)\}", template)):
        if i % 2:
            value = lookup(part)
            if value is None:
                return None
            out.append(value)
        else:
            out.append(part)
    return "".join(out)


def _glob(pattern: str) -> re.Pattern[str]:
    out = []
    for c in pattern:
        if c == "*" or c == ANY:
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == SEGMENT:
            out.append("[^:/]+")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out))


def _action_matches(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(a.lower()).fullmatch(action.lower()) for a in as_list(statement["NotAction"]))
    return any(_glob(str(a).lower()).fullmatch(action.lower()) for a in as_list(statement.get("Action")))


def _conditions(block: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> tuple[bool, list[str], str]:
    """(holds, keys not evaluated, the failing condition). Unknown keys are assumed to hold."""
    unknown: list[str] = []
    for operator, entries in block.items():
        for key, expected in entries.items():
            expected_values = [str(v) for v in as_list(expected)]
            present = key in context
            base = operator.removesuffix("IfExists")
            qualifier, _, op = base.rpartition(":")
            if op == "Null":
                if key not in context and not _context_known(key, context):
                    unknown.append(key)
                    continue
                if (expected_values[0].lower() == "true") != (not present):
                    return False, unknown, f"{operator} {key}"
                continue
            if not present:
                if not _context_known(key, context):
                    unknown.append(key)
                    continue
                if operator.endswith("IfExists") or qualifier == "ForAllValues":
                    continue
                return False, unknown, f"{operator} {key} (absent from the request)"
            actual = [str(v) for v in as_list(context[key])]
            if not _compare(op, qualifier, actual, expected_values):
                return False, unknown, f"{operator} {key}={actual} (allowed: {expected_values})"
            if any(ANY in v or SEGMENT in v for v in expected_values):
                unknown.append(key)
    return True, unknown, ""


def _context_known(key: str, context: Mapping[str, Any]) -> bool:
    """Whether the request context built for the call is complete for ``key``'s service (absence is meaningful)."""
    return key in context.get("__complete__", ())


def _compare(op: str, qualifier: str, actual: list[str], expected: list[str]) -> bool:
    def one(value: str, wanted: str) -> bool:
        if op in ("StringEquals", "ArnEquals"):
            return value == wanted or _glob(wanted).fullmatch(value) is not None and (ANY in wanted or SEGMENT in wanted)
        if op == "StringEqualsIgnoreCase":
            return value.lower() == wanted.lower()
        if op in ("StringLike", "ArnLike"):
            return _glob(wanted).fullmatch(value) is not None
        if op == "Bool":
            return value.lower() == wanted.lower()
        if op in ("StringNotEquals", "ArnNotEquals"):
            return value != wanted
        if op in ("StringNotLike", "ArnNotLike"):
            return _glob(wanted).fullmatch(value) is None
        return True

    negative = "Not" in op
    match = (lambda v: all(one(v, w) for w in expected)) if negative else (lambda v: any(one(v, w) for w in expected))
    if qualifier == "ForAnyValue":
        return any(match(v) for v in actual)
    return all(match(v) for v in actual)


# -- request context ------------------------------------------------------------------------------------------


def context_of(action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The condition keys the request carries that this gate can tell from its members."""
    ctx: dict[str, Any] = {"aws:SecureTransport": "true"}
    service = action.split(":", 1)[0]
    if service == "sagemaker":
        complete = []
        if "ModelApprovalStatus" in params:
            ctx["sagemaker:ModelApprovalStatus"] = params["ModelApprovalStatus"]
        if action in ("sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage"):
            complete.append("sagemaker:ModelApprovalStatus")
        vpc = params.get("VpcConfig") or {}
        if vpc:
            ctx["sagemaker:VpcSubnets"] = vpc.get("Subnets", [])
            ctx["sagemaker:VpcSecurityGroupIds"] = vpc.get("SecurityGroupIds", [])
        if "EnableNetworkIsolation" in params:
            ctx["sagemaker:NetworkIsolation"] = str(params["EnableNetworkIsolation"]).lower()
        if "EnableInterContainerTrafficEncryption" in params:
            ctx["sagemaker:InterContainerTrafficEncryption"] = str(params["EnableInterContainerTrafficEncryption"]).lower()
        instance_types = _members(params, "InstanceType")
        if instance_types:
            ctx["sagemaker:InstanceTypes"] = instance_types
        for member, key in (("VolumeKmsKeyId", "sagemaker:VolumeKmsKeyArn"), ("KmsKeyId", "sagemaker:OutputKmsKeyArn")):
            found = _members(params.get("ResourceConfig", {}) if member == "VolumeKmsKeyId" else params.get("OutputDataConfig", {}), member)
            if found:
                ctx[key] = found[0]
        ctx["__complete__"] = complete
    return ctx


def _members(value: Any, name: str) -> list[str]:
    """Every string value of members called ``name``, at any depth."""
    if isinstance(value, dict):
        return [str(v) for k, v in value.items() if k == name and isinstance(v, str)] + [s for v in value.values() for s in _members(v, name)]
    if isinstance(value, list):
        return [s for v in value for s in _members(v, name)]
    return []


# -- the gate -------------------------------------------------------------------------------------------------


@dataclass
class RoleReport:
    calls: int = 0
    full: int = 0
    partial: int = 0
    denied: int = 0
    why_partial: Counter = field(default_factory=Counter)


def handler_roles(templates: Templates) -> dict[str, list[tuple[Stack, str, str]]]:
    """Handler module -> [(stack, function logical id, role logical id)] of the functions that deploy it."""
    out: dict[str, list[tuple[Stack, str, str]]] = defaultdict(list)
    for stack in templates.stacks.values():
        for logical_id, resource in stack.template.get("Resources", {}).items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            handler = resource.get("Properties", {}).get("Handler")
            role = resource["Properties"].get("Role")
            if isinstance(handler, str) and isinstance(role, dict) and "Fn::GetAtt" in role:
                out[handler.rsplit(".", 1)[0]].append((stack, logical_id, role["Fn::GetAtt"][0]))
    return out


def evaluate_recorded(recorded: Mapping[str, Any], templates: Templates, reference: Reference) -> tuple[list[str], dict[str, RoleReport]]:
    """Every recorded call against its role. Returns the failures and a report per role."""
    evaluator = Evaluator(reference)
    failures: list[str] = []
    reports: dict[str, RoleReport] = defaultdict(RoleReport)
    handlers = handler_roles(templates)
    resolved_roles: dict[tuple[str, str], list[dict]] = {}
    sm_roles = recorded.get("state_machine_roles", {})
    seen_sync: set[str] = set()
    for call in recorded.get("calls", []):
        caller = call["caller"]
        what = f"{call['service']}:{call['operation']} (test {call['test']})"
        if caller.get("unmapped"):
            failures.append(f"unmapped call {what}: {caller['unmapped']}")
            continue
        if caller["kind"] == "handler":
            targets = _handler_targets(caller["modules"], handlers, templates, resolved_roles, recorded.get("test_functions", {}))
            if not targets:
                failures.append(
                    f"unmapped call {what}: no Lambda function in cdk.out (or in a template the tests synthesized) deploys "
                    f"{' or '.join(Path(m).stem for m in caller['modules'])} or a handler module of its folder that imports it"
                )
                continue
        elif caller["kind"] == "operator":
            found = operator_policy(templates)
            if found is None:
                failures.append(
                    f"unmapped call {what}: the operator CLI ({caller['module']}) made it, and no stack in cdk.out outputs "
                    f"{OPERATOR_OUTPUT} (the operator policy, sagemaker_tiers.operations.OperatorPolicy)"
                )
                continue
            stack, statements = found
            policy_id = stack.template["Outputs"][OPERATOR_OUTPUT]["Value"]["Ref"]
            # The tests' resource names (moto's) differ from the app's: a resource may match by type only.
            targets = [(f"{stack.name}/{policy_id} ({stack.path(policy_id)}, the operator CLI's policy)", statements, True)]
        else:
            role = sm_roles[caller["role"]]
            role_name = f"{caller['role'].split('@')[0]} (role of state machine {caller.get('name')}, as a test synthesized it)"
            targets = [(role_name, role["statements"], False)]
            if caller["role"] not in seen_sync:
                seen_sync.add(caller["role"])
                for resource in role["sync"]:
                    for extra in sync_calls(resource):
                        if "unknown_sync" in extra:
                            failures.append(f"{role_name}: {resource}: no known permissions for this .sync integration")
                            continue
                        decision = evaluator.evaluate(extra["action"], extra["resource"], {}, role["statements"], names_may_differ=False)
                        _count(reports[role_name], decision)
                        if not decision.allowed:
                            failures.append(f"denied: .sync task {resource} needs {extra['action']} for role {role_name}: {'; '.join(decision.reasons)}")
        try:
            action = evaluator.action_of(call["service"], call["operation"])
        except LookupError as error:
            failures.append(f"{what}: {error}")
            continue
        resource, _ = evaluator.resource_of(action, call["params"], call["region"] or "us-east-1")
        context = context_of(action, call["params"])
        checks = [(action, resource, context)]
        for member in ("RoleArn", "ExecutionRoleArn"):
            if isinstance(call["params"].get(member), str):
                checks.append(("iam:PassRole", call["params"][member], {"iam:PassedToService": f"{call['service']}.amazonaws.com", "__complete__": ["iam:PassedToService"]}))
        for role_name, statements, names_may_differ in targets:
            report = reports[role_name]
            for check_action, check_resource, check_context in checks:
                decision = evaluator.evaluate(check_action, check_resource, check_context, statements, names_may_differ=names_may_differ)
                _count(report, decision)
                if not decision.allowed:
                    failures.append(
                        f"denied: {what} needs {check_action} on {_show(decision.resource)}; role {role_name}: "
                        + "; ".join(decision.reasons)
                    )
    return failures, dict(reports)


def operator_policy(templates: Templates) -> tuple[Stack, list[dict]] | None:
    """The stack whose output ``OperatorPolicyArn`` names a managed policy, and that policy's statements
    (resolved), or None."""
    for stack in templates.stacks.values():
        output = stack.template.get("Outputs", {}).get(OPERATOR_OUTPUT)
        ref = output.get("Value", {}).get("Ref") if isinstance(output, dict) and isinstance(output.get("Value"), dict) else None
        resource = stack.template.get("Resources", {}).get(ref or "", {})
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            statements = as_list(resource["Properties"]["PolicyDocument"].get("Statement"))
            return stack, [templates.resolve(stack, s) for s in statements]
    return None


def _handler_targets(modules: list[str], handlers: Mapping[str, list], templates: Templates, cache: dict, test_functions: Mapping[str, Any]) -> list[tuple[str, list[dict], bool]]:
    """The roles a handler call is made with: the function deploying the outermost handler module on the call
    stack; for a helper module a test calls directly, every function of its folder whose module imports it."""
    names = [Path(m).stem for m in modules]
    chosen = next((n for n in names if n in handlers or n in test_functions), None)
    if chosen is None:
        folder = (ROOT / modules[0]).parent
        helper = names[0]
        importers = [
            f.stem for f in sorted(folder.glob("*.py"))
            if re.search(rf"^\s*(import {helper}\b|from {helper} import)", f.read_text(), re.MULTILINE)
        ]
        chosen_all = [n for n in importers if n in handlers or n in test_functions]
    else:
        chosen_all = [chosen]
    targets = []
    for name in chosen_all:
        if name in handlers:
            for stack, function_id, role_id in handlers[name]:
                key = (stack.name, role_id)
                if key not in cache:
                    cache[key] = [templates.resolve(stack, s) for s in role_statements(stack.template, role_id)]
                targets.append((f"{stack.name}/{role_id} ({stack.path(role_id)}, role of {function_id})", cache[key], True))
        else:
            targets += [(f["where"], f["statements"], True) for f in test_functions[name]]
    return targets


def sync_requirements(templates: Templates, reference: Reference) -> tuple[list[str], dict[str, RoleReport]]:
    """Every ``.sync`` task of every state machine in cdk.out against its role: the extra polling and EventBridge
    rule permissions Step Functions needs (executions under moto cannot run ``.sync`` tasks, so no call shows them)."""
    evaluator = Evaluator(reference)
    failures: list[str] = []
    reports: dict[str, RoleReport] = defaultdict(RoleReport)
    for stack in templates.stacks.values():
        for logical_id, resource in stack.template.get("Resources", {}).items():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            props = resource.get("Properties", {})
            role = props.get("RoleArn")
            if not (isinstance(role, dict) and "Fn::GetAtt" in role) or "DefinitionString" not in props:
                continue
            definition = json.loads(templates.resolve(stack, props["DefinitionString"]), strict=False)
            tasks = _sync_tasks(definition)
            if not tasks:
                continue
            role_id = role["Fn::GetAtt"][0]
            statements = [templates.resolve(stack, s) for s in role_statements(stack.template, role_id)]
            name = f"{stack.name}/{role_id} ({stack.path(role_id)}, role of state machine {logical_id}, .sync tasks)"
            for task in tasks:
                for extra in sync_calls(task):
                    if "unknown_sync" in extra:
                        failures.append(f"{name}: {task}: no known permissions for this .sync integration")
                        continue
                    decision = evaluator.evaluate(extra["action"], extra["resource"], {}, statements, names_may_differ=False)
                    _count(reports[name], decision)
                    if not decision.allowed:
                        failures.append(f"denied: .sync task {task} needs {extra['action']} for role {name}: {'; '.join(decision.reasons)}")
    return failures, dict(reports)


def _count(report: RoleReport, decision: Decision) -> None:
    report.calls += 1
    if not decision.allowed:
        report.denied += 1
    elif decision.full:
        report.full += 1
    else:
        report.partial += 1
        report.why_partial.update(f"{decision.action}: {reason}" for reason in decision.reasons)


def summary(reports: Mapping[str, RoleReport], *, verbose: bool = False) -> list[str]:
    lines = [f"{'calls':>6} {'full':>6} {'partial':>7} {'denied':>6}  role"]
    for role, r in sorted(reports.items()):
        lines.append(f"{r.calls:>6} {r.full:>6} {r.partial:>7} {r.denied:>6}  {role}")
        if verbose:
            lines += [f"{'':>30}partial x{n}: {why}" for why, n in r.why_partial.most_common()]
    total = Counter()
    for r in reports.values():
        total.update({"calls": r.calls, "full": r.full, "partial": r.partial, "denied": r.denied})
    lines.append(f"{total['calls']:>6} {total['full']:>6} {total['partial']:>7} {total['denied']:>6}  all roles")
    return lines
