"""Request-shape gate: every Step Functions task request in a cloud assembly, checked against botocore's models.

Usage: python scripts/request_shapes.py [cdk.out]   (``make request-shapes``; exit 1 on any finding)

For each ``AWS::StepFunctions::StateMachine`` of each synthesized template, the definition is resolved
(``tests/sfn_support.resolve``; values the template only knows at deploy time, such as ``Ref``, ``Fn::GetAtt`` and
``Fn::ImportValue``, become opaque placeholders) and every ``Task`` state that calls an AWS API through Step
Functions is checked:

* **Static request values** against the operation's input shape in botocore's service model: member names (AWS
  SDK integrations take the API's members with the first letter upper-cased, ``executionArn`` ->
  ``ExecutionArn``; optimized integrations such as ``sagemaker:createTrainingJob`` take the API's own members),
  required members, JSON types, enums, string and list lengths, patterns and numeric ranges. A value with a
  deploy-time placeholder in it is checked for its type only.
* **Paths** (``"Member.$"`` values, ``ResultSelector``, Choice variables, ``ItemsPath``, ``InputPath``,
  ``OutputPath``, ``SecondsPath``...): the syntax of the JSONPath, the context-object path (``$$.Execution.Id``)
  or the intrinsic function (``States.Format(...)``), and whether the path can exist. Existence is decided by a
  data-flow pass over the state graph: each state's input is the merge of what its predecessors output (Pass
  results and Parameters as written, task results as the integration's output shape in botocore's model,
  ``{"Error", "Cause"}`` into a Catch), through ``InputPath``/``Parameters``/``ResultSelector``/``ResultPath``/
  ``OutputPath``. A path is a finding only when no incoming flow can hold it (a closed object without that field,
  or a scalar where an object is needed). The execution input is taken as unknown, so a path into it is never a
  finding; everything a state builds from it is known.

A finding names the stack, the state machine (its construct path), the state, the member or path, and the rule.
What this cannot see: service-side rules that the model does not carry (for example that an endpoint config
must exist before CreateEndpoint), values known only at deploy or run time, and the shape of a Lambda function's
result (taken as unknown).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.sfn_support import resolve  # noqa: E402

#: Text of a value the template only knows at deploy time (a Ref, GetAtt, ImportValue...).
PLACEHOLDER = re.compile(r"\u27e6[^\u27e7]*\u27e7")

#: Step Functions' AWS SDK service names that differ from botocore's.
SDK_SERVICE_NAMES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs"}

#: Optimized integrations (``arn:aws:states:::<service>:<action>``): botocore service, operation, and the members
#: Step Functions accepts as any JSON value and serializes itself (documented per integration, e.g.
#: https://docs.aws.amazon.com/step-functions/latest/dg/connect-sns.html,
#: https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html).
OPTIMIZED: dict[str, tuple[str, str, frozenset[str]]] = {
    "lambda:invoke": ("lambda", "Invoke", frozenset({"Payload"})),
    "sns:publish": ("sns", "Publish", frozenset({"Message"})),
    "sqs:sendMessage": ("sqs", "SendMessage", frozenset({"MessageBody"})),
    "events:putEvents": ("events", "PutEvents", frozenset({"Detail"})),
    "states:startExecution": ("stepfunctions", "StartExecution", frozenset({"Input"})),
    "dynamodb:getItem": ("dynamodb", "GetItem", frozenset()),
    "dynamodb:putItem": ("dynamodb", "PutItem", frozenset()),
    "dynamodb:deleteItem": ("dynamodb", "DeleteItem", frozenset()),
    "dynamodb:updateItem": ("dynamodb", "UpdateItem", frozenset()),
    **{
        f"sagemaker:{action[0].lower()}{action[1:]}": ("sagemaker", action, frozenset())
        for action in (
            "CreateEndpoint",
            "CreateEndpointConfig",
            "CreateHyperParameterTuningJob",
            "CreateLabelingJob",
            "CreateModel",
            "CreateProcessingJob",
            "CreateTrainingJob",
            "CreateTransformJob",
            "UpdateEndpoint",
        )
    },
}

#: What a ``.sync`` SageMaker job integration returns: the Describe call of the job it waited for.
#: https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html
SYNC_OUTPUT = {
    "CreateTrainingJob": "DescribeTrainingJob",
    "CreateTransformJob": "DescribeTransformJob",
    "CreateProcessingJob": "DescribeProcessingJob",
    "CreateHyperParameterTuningJob": "DescribeHyperParameterTuningJob",
    "CreateLabelingJob": "DescribeLabelingJob",
}

#: Fields of the context object (``$$``). https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html
CONTEXT_OBJECT: dict[str, Any] = {
    "Execution": {"Id": "s", "Input": None, "Name": "s", "RoleArn": "s", "StartTime": "s", "RedriveCount": "n", "RedriveTime": "s"},
    "State": {"EnteredTime": "s", "Name": "s", "RetryCount": "n"},
    "StateMachine": {"Id": "s", "Name": "s"},
    "Task": {"Token": "s"},
}
MAP_CONTEXT = {"Item": {"Index": "n", "Value": None, "Key": "s", "Source": "s"}}

#: Intrinsic functions and the JSON kind each returns (None: any).
#: https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
INTRINSICS = {
    "States.Format": "string", "States.StringToJson": None, "States.JsonToString": "string",
    "States.Array": "array", "States.ArrayPartition": "array", "States.ArrayContains": "boolean",
    "States.ArrayRange": "array", "States.ArrayGetItem": None, "States.ArrayLength": "number",
    "States.ArrayUnique": "array", "States.Base64Encode": "string", "States.Base64Decode": "string",
    "States.Hash": "string", "States.JsonMerge": "object", "States.MathRandom": "number",
    "States.MathAdd": "number", "States.StringSplit": "array", "States.UUID": "string",
}


@dataclass(frozen=True)
class Finding:
    stack: str
    state_machine: str
    state: str
    member: str
    rule: str

    def __str__(self) -> str:
        return f"{self.stack} {self.state_machine} state {self.state!r} {self.member}: {self.rule}"


# -- abstract JSON values for the data-flow pass -------------------------------------------------------------


@dataclass
class T:
    """What a JSON value can be: ``kind`` any/object/array/string/number/boolean/null."""

    kind: str = "any"
    fields: dict[str, tuple[T, bool]] = field(default_factory=dict)  # object: name -> (type, always present)
    open: bool = True  # object: may hold fields not listed
    item: T | None = None  # array
    enum: tuple[str, ...] | None = None  # string: the values the service model allows


ANY = T()
ERROR_OUTPUT = T("object", {"Error": (T("string"), True), "Cause": (T("string"), True)}, open=False)


def merge(a: T | None, b: T | None) -> T | None:
    if a is None:
        return b
    if b is None:
        return a
    if a.kind == "any" or a.kind != b.kind:
        return ANY
    if a.kind == "object":
        fields = {}
        for name in a.fields.keys() | b.fields.keys():
            if name in a.fields and name in b.fields:
                fields[name] = (merge(a.fields[name][0], b.fields[name][0]), a.fields[name][1] and b.fields[name][1])
            else:
                fields[name] = ((a.fields.get(name) or b.fields[name])[0], False)
        return T("object", fields, a.open or b.open)
    if a.kind == "array":
        return T("array", item=merge(a.item, b.item) or ANY)
    if a.kind == "string" and a.enum != b.enum:
        return T("string", enum=tuple(sorted(set(a.enum) | set(b.enum))) if a.enum and b.enum else None)
    return a


def literal(value: Any) -> T:
    if isinstance(value, dict):
        return T("object", {k: (literal(v), True) for k, v in value.items()}, open=False)
    if isinstance(value, list):
        item = None
        for v in value:
            item = merge(item, literal(v))
        return T("array", item=item or ANY)
    if isinstance(value, bool):
        return T("boolean")
    if isinstance(value, (int, float)):
        return T("number")
    if isinstance(value, str):
        return ANY if PLACEHOLDER.search(value) else T("string")
    return T("null") if value is None else ANY


def from_shape(shape: Any, depth: int = 0, *, capitalise: bool) -> T:
    """The abstract value of a botocore output shape (member names as Step Functions returns them)."""
    if shape is None or depth > 8:
        return ANY
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type if hasattr(shape, "is_document_type") else False:
            return ANY
        fields = {}
        for name, member in shape.members.items():
            key = name[:1].upper() + name[1:] if capitalise else name
            fields[key] = (from_shape(member, depth + 1, capitalise=capitalise), False)
        return T("object", fields, open=False)
    if kind == "list":
        return T("array", item=from_shape(shape.member, depth + 1, capitalise=capitalise))
    if kind == "map":
        return T("object", {}, open=True)
    if kind in ("integer", "long", "float", "double"):
        return T("number")
    if kind == "boolean":
        return T("boolean")
    if kind == "string":
        return T("string", enum=tuple(shape.enum) if shape.enum else None)
    if kind in ("timestamp", "blob"):
        return T("string")
    return ANY


# -- paths ------------------------------------------------------------------------------------------------------

_STEP = re.compile(r"\.([A-Za-z_$@][\w$@-]*)|\['([^']*)'\]|\[(\d+)\]|\[\*\]|\.\*")


def parse_path(path: str) -> list[str | int | None] | None:
    """``$.a.b[0]['c']`` -> ``["a", "b", 0, "c"]`` (None: a wildcard or an expression this pass does not follow).

    Returns None if the text is not a JSONPath at all.
    """
    if not path.startswith("$"):
        return None
    rest, steps = path[1:], []
    while rest:
        if rest.startswith("..") or rest.startswith("[?") or rest.startswith("[-") or re.match(r"\[\d*:", rest):
            return steps + [None] if _valid_jsonpath(path) else None
        match = _STEP.match(rest)
        if not match:
            return None
        name, quoted, index = match.groups()
        steps.append(name if name is not None else quoted if quoted is not None else int(index) if index else None)
        rest = rest[match.end():]
    return steps


def _valid_jsonpath(path: str) -> bool:
    try:
        from jsonpath_ng.ext import parse  # moto[stepfunctions] brings it

        parse(path)
        return True
    except Exception:  # noqa: BLE001 - any parse error is the answer
        return False


def lookup(value: T, steps: list[str | int | None]) -> tuple[str, T]:
    """Follow ``steps`` into ``value``: ("yes" | "maybe" | "no", the type found).

    A path with a wildcard selects a list of what it matches (Step Functions returns an array for it).
    """
    if None in steps:
        found, item = _lookup(value, steps)
        return ("maybe" if found == "yes" else found), T("array", item=item)
    return _lookup(value, steps)


def _lookup(value: T, steps: list[str | int | None]) -> tuple[str, T]:
    certain = True
    for step in steps:
        if value.kind == "any" or step is None and value.kind in ("object", "array"):
            if step is None and value.kind == "array":
                value = value.item or ANY
                continue
            return "maybe", ANY
        if isinstance(step, str):
            if value.kind != "object":
                return "no", ANY
            if step not in value.fields:
                return ("maybe", ANY) if value.open else ("no", ANY)
            value, always = value.fields[step]
            certain = certain and always
        else:
            if value.kind != "array":
                return "no", ANY
            value = value.item or ANY
            certain = False
    return ("yes" if certain else "maybe"), value


def assign(target: T, steps: list[str | int | None], value: T) -> T:
    """``target`` with ``value`` placed at ``steps`` (ResultPath)."""
    if not steps:
        return value
    head, rest = steps[0], steps[1:]
    if not isinstance(head, str):
        return ANY
    if target.kind == "any":
        target = T("object", {}, open=True)
    if target.kind != "object":
        return ANY
    fields = dict(target.fields)
    child = fields.get(head, (T("object", {}, open=True), True))[0]
    fields[head] = (assign(child, rest, value), True)
    return T("object", fields, target.open)


def split_arguments(text: str) -> list[str] | None:
    """The top-level, comma-separated arguments of an intrinsic function call."""
    args, depth, quote, current = [], 0, False, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            current += ch
            if ch == "\\" and i + 1 < len(text):
                current += text[i + 1]
                i += 1
            elif ch == "'":
                quote = False
        elif ch == "'":
            quote, current = True, current + ch
        elif ch == "(":
            depth, current = depth + 1, current + ch
        elif ch == ")":
            depth, current = depth - 1, current + ch
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    if quote or depth:
        return None
    if current.strip():
        args.append(current.strip())
    return args


# -- the checker ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None  # Java-only syntax (\p{...}); reported as unchecked, never as a finding


class StateMachineChecker:
    """Checks one resolved definition; ``findings`` collects what it breaks."""

    def __init__(self, stack: str, name: str, definition: Mapping[str, Any]) -> None:
        self.stack, self.name, self.definition = stack, name, definition
        self.findings: list[Finding] = []
        #: Member names as the model spells them (boto3, the JavaScript SDK) instead of Step Functions' casing.
        self.exact_names = False
        self.tasks_checked = 0
        self.paths_checked = 0
        self.patterns_unchecked: set[str] = set()

    def report(self, state: str, member: str, rule: str) -> None:
        finding = Finding(self.stack, self.name, state, member, rule)
        if finding not in self.findings:
            self.findings.append(finding)

    def run(self) -> list[Finding]:
        self._machine(self.definition, prefix="", input_type=ANY, in_map=False, check=True)
        return self.findings

    # -- graph -------------------------------------------------------------------------------------------------

    def _machine(self, machine: Mapping[str, Any], *, prefix: str, input_type: T, in_map: bool, check: bool) -> T:
        """Data-flow over one (sub-)state machine; returns the merged output of its terminal states."""
        states: Mapping[str, Any] = machine["States"]
        inputs: dict[str, T | None] = {name: None for name in states}
        inputs[machine["StartAt"]] = input_type
        output: T | None = None
        pending = [machine["StartAt"]]
        visits = 0
        while pending and visits < 200 * len(states):
            visits += 1
            name = pending.pop(0)
            state = states[name]
            edges = self._transfer(f"{prefix}{name}", state, inputs[name] or ANY, in_map=in_map, check=False)
            for target, value in edges:
                if target is None:
                    output = merge(output, value)
                    continue
                if target not in states:
                    self.report(f"{prefix}{name}", "Next", f"no state named {target!r}")
                    continue
                merged = merge(inputs[target], value)
                if merged != inputs[target]:
                    inputs[target] = merged
                    if target not in pending:
                        pending.append(target)
        if pending:
            # No fixed point within the bound (a loop that nests its own output deeper each round): know nothing.
            inputs = {name: ANY for name in states}
        # Once the inputs are stable, check each state against its final input (an unreached one: unknown input).
        if check:
            for name, state in states.items():
                self._transfer(f"{prefix}{name}", state, inputs[name] or ANY, in_map=in_map, check=True)
        return output or ANY

    def _transfer(self, where: str, state: Mapping[str, Any], raw: T, *, in_map: bool, check: bool) -> list[tuple[str | None, T]]:
        kind = state.get("Type")
        if state.get("QueryLanguage", self.definition.get("QueryLanguage")) == "JSONata":
            if check and kind == "Task":
                self._task_request(where, state, None, in_map=in_map)
            return [(t, ANY) for t in _next_states(state)]
        effective = self._select(where, "InputPath", state.get("InputPath", "$"), raw, check=check, in_map=in_map)
        edges: list[tuple[str | None, T]] = []
        if kind == "Pass":
            if "Result" in state:
                result = literal(state["Result"])
            elif "Parameters" in state:
                result = self._template(where, "Parameters", state["Parameters"], effective, check=check, in_map=in_map)
            else:
                result = effective
            out = self._result_path(where, state, raw, result)
        elif kind == "Task":
            result = self._task_request(where, state, effective, in_map=in_map) if check else self._task_output(state)
            if "ResultSelector" in state:
                result = self._template(where, "ResultSelector", state["ResultSelector"], result, check=check, in_map=in_map)
            out = self._result_path(where, state, raw, result)
            edges += self._catches(where, state, raw)
        elif kind in ("Map", "Parallel"):
            result = self._compound(where, state, effective, check=check, in_map=in_map)
            if "ResultSelector" in state:
                result = self._template(where, "ResultSelector", state["ResultSelector"], result, check=check, in_map=in_map)
            out = self._result_path(where, state, raw, result)
            edges += self._catches(where, state, raw)
        elif kind == "Choice":
            if check:
                for i, rule in enumerate(state.get("Choices", [])):
                    self._choice_rule(where, f"Choices[{i}]", rule, effective, in_map=in_map)
            out = effective
        elif kind == "Wait":
            for key in ("SecondsPath", "TimestampPath"):
                if key in state:
                    self._path(where, key, state[key], effective, check=check, in_map=in_map)
            out = effective
        elif kind == "Fail":
            for key in ("ErrorPath", "CausePath"):
                if key in state:
                    self._value_path(where, key, state[key], effective, check=check, in_map=in_map)
            return []
        else:  # Succeed
            out = effective
        out = self._select(where, "OutputPath", state.get("OutputPath", "$"), out, check=check, in_map=in_map)
        if kind == "Choice":
            edges += [(target, out) for target in _next_states(state)]
        elif kind == "Succeed" or state.get("End"):
            edges.append((None, out))
        elif "Next" in state:
            edges.append((state["Next"], out))
        return edges

    def _catches(self, where: str, state: Mapping[str, Any], raw: T) -> list[tuple[str | None, T]]:
        edges = []
        for catcher in state.get("Catch", []):
            path = catcher.get("ResultPath", "$")
            steps = parse_path(path) if path is not None else None
            edges.append((catcher["Next"], raw if path is None else assign(raw, steps or [], ERROR_OUTPUT)))
        return edges

    def _result_path(self, where: str, state: Mapping[str, Any], raw: T, result: T) -> T:
        if "ResultPath" not in state:
            return result
        path = state["ResultPath"]
        if path is None:
            return raw
        steps = parse_path(path)
        if steps is None or any(not isinstance(s, str) for s in steps):
            self.report(where, "ResultPath", f"{path!r} is not a reference path ($ followed by .field steps)")
            return ANY
        return assign(raw, steps, result)

    def _select(self, where: str, key: str, path: str | None, value: T, *, check: bool, in_map: bool) -> T:
        if path is None:
            return T("object", {}, open=False)
        if path == "$":
            return value
        return self._path(where, key, path, value, check=check, in_map=in_map)

    def _compound(self, where: str, state: Mapping[str, Any], effective: T, *, check: bool, in_map: bool) -> T:
        if state["Type"] == "Parallel":
            item = None
            for i, branch in enumerate(state.get("Branches", [])):
                item = merge(item, self._sub(f"{where}/", branch, effective, check=check, in_map=in_map))
            return T("array", item=item or ANY)
        items = self._path(where, "ItemsPath", state.get("ItemsPath", "$"), effective, check=check, in_map=in_map)
        item = items.item if items.kind == "array" and items.item else ANY
        if items.kind not in ("array", "any") and check:
            self.report(where, "ItemsPath", f"{state.get('ItemsPath', '$')!r} selects a {items.kind}, not an array")
        selector = state.get("ItemSelector", state.get("Parameters"))
        if selector is not None:
            item = self._template(where, "ItemSelector", selector, effective, check=check, in_map=True, map_item=item)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        return T("array", item=self._sub(f"{where}/", processor, item, check=check, in_map=True))

    def _sub(self, prefix: str, machine: Mapping[str, Any], input_type: T, *, check: bool, in_map: bool) -> T:
        # While the outer flow settles, a branch is analysed for its output only; it is checked once, at the end.
        return self._machine(machine, prefix=prefix, input_type=input_type, in_map=in_map, check=check)

    # -- paths and templates -----------------------------------------------------------------------------------

    def _path(self, where: str, member: str, path: Any, value: T, *, check: bool, in_map: bool, map_item: T | None = None) -> T:
        """Check a JSONPath or context path and return the type it selects."""
        if not isinstance(path, str):
            if check:
                self.report(where, member, f"a path must be a string, got {path!r}")
            return ANY
        if check:
            self.paths_checked += 1
        if path.startswith("$$"):
            return self._context_path(where, member, path, check=check, in_map=in_map, map_item=map_item)
        steps = parse_path(path)
        if steps is None:
            if check:
                self.report(where, member, f"{path!r} is not a valid JSONPath")
            return ANY
        found, selected = lookup(value, steps)
        if found == "no" and check:
            self.report(where, member, f"path {path!r} selects nothing: no state before this one produces it")
        return selected

    def _context_path(self, where: str, member: str, path: str, *, check: bool, in_map: bool, map_item: T | None) -> T:
        steps = parse_path(path[1:])
        if steps is None:
            if check:
                self.report(where, member, f"{path!r} is not a valid context object path")
            return ANY
        tree: Any = {**CONTEXT_OBJECT, **({"Map": MAP_CONTEXT} if in_map else {})}
        for i, step in enumerate(steps):
            if tree is None:
                return ANY  # Execution.Input or Map.Item.Value: unknown contents
            if tree in ("s", "n") or not isinstance(step, str) or step not in tree:
                if check:
                    where_ok = "" if in_map or step != "Map" else " (only inside a Map state's ItemSelector)"
                    self.report(where, member, f"context object has no {path!r}{where_ok}")
                return ANY
            tree = tree[step]
            if steps[: i + 1] == ["Map", "Item", "Value"] and map_item is not None:
                return map_item
        return T("string") if tree == "s" else T("number") if tree == "n" else ANY

    def _value_path(self, where: str, member: str, text: Any, value: T, *, check: bool, in_map: bool, map_item: T | None = None) -> T:
        """A ``.$`` value: a path, a context path or an intrinsic function call."""
        if isinstance(text, str) and text.startswith("States."):
            return self._intrinsic(where, member, text, value, check=check, in_map=in_map, map_item=map_item)
        return self._path(where, member, text, value, check=check, in_map=in_map, map_item=map_item)

    def _intrinsic(self, where: str, member: str, text: str, value: T, *, check: bool, in_map: bool, map_item: T | None) -> T:
        match = re.fullmatch(r"(States\.\w+)\((.*)\)", text.strip(), re.DOTALL)
        if not match or match.group(1) not in INTRINSICS:
            if check:
                self.report(where, member, f"{text!r} is not a known intrinsic function call")
            return ANY
        args = split_arguments(match.group(2))
        if args is None:
            if check:
                self.report(where, member, f"{text!r}: unbalanced quotes or parentheses")
            return ANY
        for arg in args:
            if arg.startswith("$"):
                self._path(where, member, arg, value, check=check, in_map=in_map, map_item=map_item)
            elif arg.startswith("States."):
                self._intrinsic(where, member, arg, value, check=check, in_map=in_map, map_item=map_item)
        kind = INTRINSICS[match.group(1)]
        return T(kind, open=True) if kind else ANY

    def _template(self, where: str, member: str, template: Any, value: T, *, check: bool, in_map: bool, map_item: T | None = None) -> T:
        """The value a payload template (Parameters, ResultSelector, ItemSelector) builds; checks its paths."""
        if isinstance(template, dict):
            fields = {}
            for key, item in template.items():
                if key.endswith(".$"):
                    fields[key[:-2]] = (
                        self._value_path(where, f"{member}.{key}", item, value, check=check, in_map=in_map, map_item=map_item),
                        True,
                    )
                else:
                    fields[key] = (self._template(where, f"{member}.{key}", item, value, check=check, in_map=in_map, map_item=map_item), True)
            return T("object", fields, open=False)
        if isinstance(template, list):
            item = None
            for i, entry in enumerate(template):
                item = merge(item, self._template(where, f"{member}[{i}]", entry, value, check=check, in_map=in_map, map_item=map_item))
            return T("array", item=item or ANY)
        return literal(template)

    def _choice_rule(self, where: str, member: str, rule: Mapping[str, Any], value: T, *, in_map: bool) -> None:
        for combinator in ("And", "Or"):
            for i, sub in enumerate(rule.get(combinator, [])):
                self._choice_rule(where, f"{member}.{combinator}[{i}]", sub, value, in_map=in_map)
        if "Not" in rule:
            self._choice_rule(where, f"{member}.Not", rule["Not"], value, in_map=in_map)
        if "Variable" in rule:
            is_present = rule.get("IsPresent")
            selected = self._path(where, f"{member}.Variable", rule["Variable"], value, check=is_present is None, in_map=in_map)
            self._comparison(where, member, rule, selected)
        for key, operand in rule.items():
            if key.endswith("Path") and key not in ("Variable",):
                self._path(where, f"{member}.{key}", operand, value, check=True, in_map=in_map)

    def _comparison(self, where: str, member: str, rule: Mapping[str, Any], selected: T) -> None:
        """A Choice comparison that can never be true: the wrong kind of value, or a string outside the enum."""
        for operator, operand in rule.items():
            kind = next((k for prefix, k in _COMPARATORS.items() if operator.startswith(prefix)), None)
            if kind is None or operator.endswith("Path"):
                continue
            if selected.kind not in ("any", kind) and not (operator == "IsNull"):
                self.report(where, f"{member}.{operator}", f"compares a {kind}, but {rule['Variable']!r} is a {selected.kind}")
            elif operator == "StringEquals" and selected.enum and operand not in selected.enum:
                self.report(
                    where,
                    f"{member}.StringEquals",
                    f"{operand!r} can never match: {rule['Variable']!r} is one of {', '.join(selected.enum)}",
                )

    # -- tasks -------------------------------------------------------------------------------------------------

    def _integration(self, resource: Any) -> tuple[str, str, frozenset[str], bool, str] | None:
        """(botocore service, operation, JSON members, SDK casing, pattern) of a Task's Resource, or None."""
        if not isinstance(resource, str) or PLACEHOLDER.fullmatch(resource):
            return None
        match = re.fullmatch(r"arn:[\w-]+:states:::(.+?)(\.sync(?::2)?|\.waitForTaskToken)?", resource)
        if not match:
            return None  # a Lambda function ARN or an activity: no request model
        target, pattern = match.group(1), match.group(2) or ""
        if target.startswith("aws-sdk:"):
            parts = target.split(":")
            if len(parts) != 3:
                return ("", "", frozenset(), True, f"malformed AWS SDK integration {target!r}")  # type: ignore[return-value]
            _, service, action = parts
            return (SDK_SERVICE_NAMES.get(service, service), action[:1].upper() + action[1:], frozenset(), True, pattern)
        if target in OPTIMIZED:
            service, operation, json_members = OPTIMIZED[target]
            return (service, operation, json_members, False, pattern)
        return ("", "", frozenset(), False, f"integration {target!r} is not modelled in scripts/request_shapes.py OPTIMIZED")

    def _operation(self, where: str, state: Mapping[str, Any]) -> tuple[Any, frozenset[str], bool, str] | None:
        integration = self._integration(state.get("Resource"))
        if integration is None:
            return None
        service, operation, json_members, sdk, pattern = integration
        if not service:
            self.report(where, "Resource", pattern)
            return None
        try:
            model = service_model(service)
        except Exception:  # noqa: BLE001 - botocore raises UnknownServiceError
            self.report(where, "Resource", f"botocore has no service {service!r}")
            return None
        names = {name.lower(): name for name in model.operation_names}
        if operation not in model.operation_names:
            hint = f" (did you mean {names[operation.lower()][:1].lower() + names[operation.lower()][1:]!r}?)" if operation.lower() in names else ""
            self.report(where, "Resource", f"{service} has no operation {operation!r}{hint}")
            return None
        return model.operation_model(operation), json_members, sdk, pattern

    def _task_output(self, state: Mapping[str, Any]) -> T:
        integration = self._integration(state.get("Resource"))
        if integration is None or not integration[0]:
            return ANY
        service, operation, _, sdk, pattern = integration
        if pattern == ".waitForTaskToken":
            return ANY
        try:
            model = service_model(service)
            if pattern.startswith(".sync") and operation in SYNC_OUTPUT:
                operation = SYNC_OUTPUT[operation]
            output = from_shape(model.operation_model(operation).output_shape, capitalise=sdk)
        except Exception:  # noqa: BLE001 - reported by the request check
            return ANY
        if service == "lambda" and operation == "Invoke" and output.kind == "object":
            output.fields["Payload"] = (ANY, False)  # the function's own result
        if not sdk and output.kind == "object":
            # Optimized integrations also return the SDK's HTTP metadata.
            output.fields.update({"SdkHttpMetadata": (ANY, False), "SdkResponseMetadata": (ANY, False)})
        return output if output.kind == "object" else T("object", {}, open=False)

    def _task_request(self, where: str, state: Mapping[str, Any], effective: T | None, *, in_map: bool) -> T:
        found = self._operation(where, state)
        output = self._task_output(state)
        if found is None:
            if effective is not None and "Parameters" in state:
                self._template(where, "Parameters", state["Parameters"], effective, check=True, in_map=in_map)
            return output
        operation, json_members, sdk, _ = found
        self.tasks_checked += 1
        parameters = state.get("Parameters", state.get("Arguments", {}))
        if not isinstance(parameters, dict):
            self.report(where, "Parameters", f"must be an object, got {parameters!r}")
            return output
        self._structure(where, "", parameters, operation.input_shape, effective, json_members=json_members, in_map=in_map)
        return output

    # -- request values against the model -------------------------------------------------------------------------

    def _structure(self, where: str, member: str, value: dict, shape: Any, effective: T | None, *, json_members: frozenset[str] = frozenset(), in_map: bool) -> None:
        if shape is None:
            if value:
                self.report(where, member or "Parameters", "the operation takes no request members")
            return
        spell = (lambda n: n) if self.exact_names else (lambda n: n[:1].upper() + n[1:])
        by_name = {spell(name): name for name in shape.members}
        given: set[str] = set()
        for key, item in value.items():
            dynamic = key.endswith(".$")
            name = key[:-2] if dynamic else key
            path = f"{member}.{name}" if member else name
            if name not in by_name:
                self.report(where, path, f"{shape.name} has no member {name!r}{_hint(name, by_name)}")
                continue
            given.add(name)
            member_shape = shape.members[by_name[name]]
            if dynamic:
                if effective is not None:
                    selected = self._value_path(where, path, item, effective, check=True, in_map=in_map)
                    self._dynamic_type(where, path, selected, member_shape, json=name in json_members and not member)
                continue
            if name in json_members and not member:
                if effective is not None:
                    self._template(where, path, item, effective, check=True, in_map=in_map)
                continue
            self._value(where, path, item, member_shape, effective, in_map=in_map)
        for required in map(spell, shape.required_members):
            if required not in given:
                self.report(where, f"{member}.{required}" if member else required, f"required member of {shape.name} is missing")

    def _dynamic_type(self, where: str, member: str, selected: T, shape: Any, *, json: bool) -> None:
        # A blob member (S3 PutObject's Body) takes any JSON: Step Functions writes an object as its JSON text.
        if json or selected.kind == "any" or shape.type_name == "blob":
            return
        expected = {
            "structure": "object", "map": "object", "list": "array", "string": "string", "integer": "number",
            "long": "number", "float": "number", "double": "number", "boolean": "boolean", "timestamp": "string",
            "blob": "string",
        }.get(shape.type_name)
        if expected and selected.kind != expected and not (expected == "string" and selected.kind == "number" and shape.type_name == "timestamp"):
            self.report(where, member, f"the path selects a {selected.kind}, {shape.type_name} {shape.name} expected")

    def _value(self, where: str, member: str, value: Any, shape: Any, effective: T | None, *, in_map: bool) -> None:
        kind = shape.type_name
        if isinstance(value, str) and value.startswith("{%"):
            return  # a JSONata expression, evaluated at run time
        if isinstance(value, str) and PLACEHOLDER.search(value):
            # Known at deploy time only: a whole placeholder may be any type; with text around it, a string.
            if not PLACEHOLDER.fullmatch(value) and kind not in ("string", "timestamp", "blob"):
                self.report(where, member, f"a string is given, {kind} {shape.name} expected")
            return
        if kind == "structure":
            if not isinstance(value, dict):
                self.report(where, member, f"{_describe(value)} given, structure {shape.name} expected")
                return
            if getattr(shape, "is_document_type", False):
                return
            self._structure(where, member, value, shape, effective, in_map=in_map)
        elif kind == "list":
            if not isinstance(value, list):
                self.report(where, member, f"{_describe(value)} given, list {shape.name} expected")
                return
            self._length(where, member, len(value), shape, "items")
            for i, entry in enumerate(value):
                self._value(where, f"{member}[{i}]", entry, shape.member, effective, in_map=in_map)
        elif kind == "map":
            if not isinstance(value, dict):
                self._report_type(where, member, value, shape)
                return
            self._length(where, member, len(value), shape, "entries")
            for key, entry in value.items():
                if key.endswith(".$"):
                    if effective is not None:
                        self._value_path(where, f"{member}.{key}", entry, effective, check=True, in_map=in_map)
                    key = key[:-2]
                else:
                    self._value(where, f"{member}.{key}", entry, shape.value, effective, in_map=in_map)
                self._value(where, f"{member} key {key!r}", key, shape.key, effective, in_map=in_map)
        elif kind in ("string", "blob"):
            if not isinstance(value, str):
                self._report_type(where, member, value, shape)
                return
            if kind == "string":
                self._string(where, member, value, shape)
        elif kind == "timestamp":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                self._report_type(where, member, value, shape)
        elif kind in ("integer", "long", "float", "double"):
            integral = kind in ("integer", "long")
            if isinstance(value, bool) or not isinstance(value, int if integral else (int, float)):
                self._report_type(where, member, value, shape)
                return
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            if low is not None and value < low:
                self.report(where, member, f"{value} is below the minimum {low} of {shape.name}")
            if high is not None and value > high:
                self.report(where, member, f"{value} is above the maximum {high} of {shape.name}")
        elif kind == "boolean":
            if not isinstance(value, bool):
                self._report_type(where, member, value, shape)

    def _report_type(self, where: str, member: str, value: Any, shape: Any) -> None:
        self.report(where, member, f"{_describe(value)} given, {shape.type_name} {shape.name} expected")

    def _length(self, where: str, member: str, length: int, shape: Any, unit: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self.report(where, member, f"{length} {unit}, {shape.name} needs at least {low}")
        if high is not None and length > high:
            self.report(where, member, f"{length} {unit}, {shape.name} allows at most {high}")

    def _string(self, where: str, member: str, value: str, shape: Any) -> None:
        if shape.enum and value not in shape.enum:
            allowed = ", ".join(shape.enum) if len(shape.enum) <= 12 else f"one of the {len(shape.enum)} values of {shape.name}"
            self.report(where, member, f"{value!r} is not in enum {shape.name} ({allowed})")
        self._length(where, member, len(value), shape, "characters")
        pattern = shape.metadata.get("pattern")
        if pattern:
            compiled = _compiled(pattern)
            if compiled is None:
                self.patterns_unchecked.add(f"{shape.name}: {pattern}")
            elif not compiled.search(value):
                self.report(where, member, f"{value!r} does not match the pattern {pattern} of {shape.name}")


#: Choice comparison operators -> the kind of value they compare.
_COMPARATORS = {"String": "string", "Numeric": "number", "Boolean": "boolean", "Timestamp": "string"}


def _hint(name: str, members: Any) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(members), n=1, cutoff=0.75)
    return f" (the member is {close[0]!r})" if close else ""


def _next_states(state: Mapping[str, Any]) -> Iterator[str]:
    for rule in state.get("Choices", []):
        yield rule["Next"]
    if "Default" in state:
        yield state["Default"]
    if "Next" in state:
        yield state["Next"]


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {json.dumps(value)[:60]}"


# -- cloud assembly -------------------------------------------------------------------------------------------


class _Placeholders(dict):
    """Physical values for :func:`resolve`: every Ref/GetAtt/ImportValue becomes an opaque placeholder."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return f"\u27e6{key}\u27e7"


def resolve_definition(value: Any) -> Any:
    """A ``DefinitionString`` (or any property) with intrinsics replaced by placeholders."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Fn::ImportValue":
            name = re.sub(r"[^\w:.-]", "", arg) if isinstance(arg, str) else "export"
            return f"\u27e6ImportValue:{name}\u27e7"
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(str(resolve_definition(p)) for p in parts)
        if key in ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Select", "Fn::Split"):
            return resolve(value, _Placeholders())
    if isinstance(value, dict):
        return {k: resolve_definition(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_definition(v) for v in value]
    return value


@dataclass
class Summary:
    findings: list[Finding] = field(default_factory=list)
    state_machines: int = 0
    tasks_checked: int = 0
    paths_checked: int = 0
    custom_resources_checked: int = 0
    handler_calls_checked: int = 0
    patterns_unchecked: set[str] = field(default_factory=set)


#: This library's custom resource types -> what each property becomes in the call its handler makes (service,
#: operation, member path; ``[]`` maps each item of a list). Kept in step with studio/studio_handlers: a custom
#: resource type in a template that is neither here nor CDK's own is a finding.
CUSTOM_RESOURCES: dict[str, dict[str, tuple[str, str, str]]] = {
    # studio_canvas_settings: UpdateUserProfile(DomainId, UserProfileName, UserSettings={"CanvasAppSettings": ...})
    # (UpdateDomain(DefaultUserSettings={"CanvasAppSettings": ...}) when UserProfileName is '').
    "Custom::CanvasSettings": {
        "DomainId": ("sagemaker", "UpdateUserProfile", "DomainId"),
        "UserProfileName": ("sagemaker", "UpdateUserProfile", "UserProfileName"),
        "Settings": ("sagemaker", "UpdateUserProfile", "UserSettings.CanvasAppSettings"),
    },
    # studio_portal_settings: UpdateUserProfile(DomainId, UserProfileName,
    # UserSettings={"StudioWebPortalSettings": <current settings with Hidden's values added>}).
    "Custom::StudioPortalSettings": {
        "DomainId": ("sagemaker", "UpdateUserProfile", "DomainId"),
        "UserProfileName": ("sagemaker", "UpdateUserProfile", "UserProfileName"),
        "Hidden": ("sagemaker", "UpdateUserProfile", "UserSettings.StudioWebPortalSettings"),
    },
    # registry_group_resource: CreateModelPackageGroup(name, description, tags) or, for an existing group,
    # AddTags(Tags); PutModelPackageGroupPolicy(ResourcePolicy) when a policy is wanted.
    "Custom::ModelPackageGroup": {
        "ModelPackageGroupName": ("sagemaker", "CreateModelPackageGroup", "ModelPackageGroupName"),
        "ModelPackageGroupDescription": ("sagemaker", "CreateModelPackageGroup", "ModelPackageGroupDescription"),
        "Tags": ("sagemaker", "CreateModelPackageGroup", "Tags"),
        "ModelPackageGroupPolicy": ("sagemaker", "PutModelPackageGroupPolicy", "ResourcePolicy"),
    },
    # studio_hub_content: CreateHubContentReference(HubName, HubContentName=<model id>, ...) per model.
    "Custom::JumpStartHubModelReferences": {
        "HubName": ("sagemaker", "CreateHubContentReference", "HubName"),
        "ModelIds[]": ("sagemaker", "CreateHubContentReference", "HubContentName"),
    },
}

#: Custom resource types of aws-cdk-lib's own handlers (CDK tests those); ``Custom::AWS`` is checked below.
CDK_CUSTOM_RESOURCES = frozenset(
    {
        "Custom::VpcRestrictDefaultSG", "Custom::S3AutoDeleteObjects", "Custom::LogRetention",
        "Custom::CDKBucketDeployment", "Custom::S3BucketNotifications", "Custom::CrossRegionExportWriter",
        "Custom::CrossRegionExportReader", "Custom::ECRAutoDeleteImages",
    }
)

#: JavaScript SDK v3 client names (AwsCustomResource) that differ from botocore's.
JS_SERVICE_NAMES = {"sfn": "stepfunctions", "cloudwatchlogs": "logs", "eventbridge": "events"}


def _member_shape(service: str, operation: str, path: str) -> Any:
    shape = service_model(service).operation_model(operation).input_shape
    for name in path.split("."):
        shape = shape.members[name]
    return shape


def check_custom_resources(stack: str, template: Mapping[str, Any], summary: Summary, paths: Mapping[str, str] | None = None) -> None:
    """Custom resource properties against the request members their handlers pass them to."""
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type", "")
        if not (kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource") or kind in CDK_CUSTOM_RESOURCES:
            continue
        name = (paths or {}).get(logical_id, logical_id)
        checker = StateMachineChecker(stack, name, {})
        props = resolve_definition(resource.get("Properties", {}))
        if kind == "Custom::AWS":
            checker.exact_names = True  # the JavaScript SDK's member names
            _check_aws_custom_resource(checker, props)
        elif kind in CUSTOM_RESOURCES:
            for prop, (service, operation, member) in CUSTOM_RESOURCES[kind].items():
                key, each = (prop[:-2], True) if prop.endswith("[]") else (prop, False)
                if key not in props or props[key] == "":
                    continue
                shape = _member_shape(service, operation, member)
                values = props[key] if each and isinstance(props[key], list) else [props[key]]
                for i, value in enumerate(values):
                    label = f"{key}[{i}] ({operation} {member})" if each else f"{key} ({operation} {member})"
                    checker._value(f"{kind} {logical_id}", label, value, shape, None, in_map=False)
        else:
            checker.report(logical_id, kind, "custom resource type not modelled in scripts/request_shapes.py CUSTOM_RESOURCES")
        summary.custom_resources_checked += 1
        summary.findings += checker.findings
        summary.patterns_unchecked |= checker.patterns_unchecked


def _check_aws_custom_resource(checker: StateMachineChecker, props: Mapping[str, Any]) -> None:
    """``AwsCustomResource`` calls (Create/Update/Delete, JSON strings of service, action and parameters)."""
    for event in ("Create", "Update", "Delete"):
        if event not in props:
            continue
        try:
            call = json.loads(props[event]) if isinstance(props[event], str) else props[event]
            raw_service, action = str(call["service"]), str(call["action"])
        except (ValueError, KeyError, TypeError) as error:
            checker.report(event, "call", f"not a JSON object with service and action: {error}")
            continue
        service = re.sub(r"[^a-z0-9]", "", raw_service.removeprefix("@aws-sdk/client-").lower())
        service = JS_SERVICE_NAMES.get(service, service)
        operation = action.removesuffix("Command")
        operation = operation[:1].upper() + operation[1:]
        try:
            model = service_model(service)
        except Exception:  # noqa: BLE001 - botocore raises UnknownServiceError
            checker.report(event, "service", f"botocore has no service {raw_service!r}")
            continue
        if operation not in model.operation_names:
            checker.report(event, "action", f"{service} has no operation {action!r}")
            continue
        shape = model.operation_model(operation).input_shape
        parameters = call.get("parameters", {})
        if shape is not None:
            checker._value(event, "parameters", parameters, shape, None, in_map=False)


def check_handler_calls(paths: list[Path], summary: Summary) -> None:
    """Static check of every ``<client>.<operation>(...)`` call in handler modules against botocore's models.

    The handler tests call real boto3 clients (moto, Stubber), which validate each request they make; this finds
    the calls on paths no test takes: unknown keyword members, missing required members, and static values.
    """
    import ast

    from botocore import xform_name

    def client_services(tree: ast.AST) -> set[str]:
        return {
            node.args[0].value
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", "")).endswith("client")
        }

    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        services = client_services(tree)
        # A handler may take its client from a helper module of its folder (``cr.sagemaker()``).
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    helper = path.parent / f"{alias.name}.py"
                    if helper.is_file() and helper != path:
                        services |= client_services(ast.parse(helper.read_text(), str(helper)))
        operations: dict[str, list[Any]] = {}
        for service in services:
            try:
                model = service_model(service)
            except Exception:  # noqa: BLE001
                summary.findings.append(Finding(path.name, "-", "-", service, "botocore has no such service"))
                continue
            for op in model.operation_names:
                operations.setdefault(xform_name(op), []).append(model.operation_model(op))
        checker = StateMachineChecker(path.name, "handler", {})
        for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in operations):
                continue
            where = f"line {node.lineno} {node.func.attr}"
            candidates = operations[node.func.attr]
            spread = any(k.arg is None for k in node.keywords) or bool(node.args)
            reports = []
            for operation in candidates:
                trial = StateMachineChecker(path.name, "handler", {})
                trial.exact_names = True
                shape = operation.input_shape
                members = set(shape.members) if shape is not None else set()
                for keyword in node.keywords:
                    if keyword.arg is None:
                        continue
                    if keyword.arg not in members:
                        name = shape.name if shape else operation.name
                        trial.report(where, keyword.arg, f"{name} has no member {keyword.arg!r}{_hint(keyword.arg, members)}")
                        continue
                    try:
                        value = ast.literal_eval(keyword.value)
                    except ValueError:
                        continue  # computed at run time: the tests' real clients validate it
                    trial._value(where, keyword.arg, value, shape.members[keyword.arg], None, in_map=False)
                if shape is not None and not spread:
                    given = {k.arg for k in node.keywords}
                    for required in shape.required_members:
                        if required not in given:
                            trial.report(where, required, f"required member of {shape.name} is missing")
                reports.append(trial)
            best = min(reports, key=lambda r: len(r.findings))
            checker.findings += best.findings
            checker.patterns_unchecked |= best.patterns_unchecked
            summary.handler_calls_checked += 1
        summary.findings += checker.findings
        summary.patterns_unchecked |= checker.patterns_unchecked


#: Lambda handler modules of the library (folders ``*_handlers`` beside the constructs that deploy them).
HANDLER_MODULES = sorted((ROOT / "constructs" / "sagemaker_tiers").glob("*/*_handlers/*.py"))


def check_template(stack: str, template: Mapping[str, Any], summary: Summary | None = None, paths: Mapping[str, str] | None = None) -> Summary:
    """Every state machine of one template; ``paths`` maps logical ids to construct paths for the findings."""
    summary = summary or Summary()
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        props = resource.get("Properties", {})
        name = (paths or {}).get(logical_id, logical_id)
        raw = props.get("DefinitionString", props.get("Definition"))
        try:
            text = resolve_definition(raw)
            definition = json.loads(text) if isinstance(text, str) else text
        except (ValueError, KeyError) as error:
            summary.findings.append(Finding(stack, name, "-", "DefinitionString", f"cannot be resolved to JSON: {error}"))
            continue
        checker = StateMachineChecker(stack, name, definition)
        summary.findings += checker.run()
        summary.state_machines += 1
        summary.tasks_checked += checker.tasks_checked
        summary.paths_checked += checker.paths_checked
        summary.patterns_unchecked |= checker.patterns_unchecked
    return summary


def construct_paths(metadata_file: Path) -> dict[str, str]:
    """Logical id -> construct path, from the stack's ``<stack>.metadata.json`` in the cloud assembly."""
    if not metadata_file.exists():
        return {}
    paths = {}
    for path, entries in json.loads(metadata_file.read_text()).items():
        for entry in entries:
            if entry.get("type") == "aws:cdk:logicalId":
                paths[entry["data"]] = path.lstrip("/")
    return paths


def check_cloud_assembly(outdir: Path, handlers: list[Path] | None = None) -> Summary:
    """Every state machine and custom resource of ``outdir``'s templates, and every call in ``handlers``."""
    summary = Summary()
    for template in sorted(Path(outdir).glob("*.template.json")):
        stack, body = template.name.removesuffix(".template.json"), json.loads(template.read_text())
        paths = construct_paths(Path(outdir) / f"{stack}.metadata.json")
        check_template(stack, body, summary, paths)
        check_custom_resources(stack, body, summary, paths)
    check_handler_calls(HANDLER_MODULES if handlers is None else handlers, summary)
    return summary


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    summary = check_cloud_assembly(outdir)
    for finding in summary.findings:
        print(f"FINDING {finding}")
    for pattern in sorted(summary.patterns_unchecked):
        print(f"note: pattern not checkable with Python's re, skipped: {pattern}")
    print(
        f"request shapes: {summary.state_machines} state machines ({summary.tasks_checked} task requests, "
        f"{summary.paths_checked} paths), {summary.custom_resources_checked} custom resources, "
        f"{summary.handler_calls_checked} handler calls checked; {len(summary.findings)} findings"
    )
    return 1 if summary.findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
