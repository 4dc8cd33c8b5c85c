"""An architecture diagram (a Mermaid flowchart) derived from a synthesized CDK app built with this library.

Nothing in the picture is typed in: it is read from the app's construct tree and synthesized templates.

* **Boxes.** One subgraph per stack; inside it one box per construct of this library (an instance of a public
  construct class of a ``sagemaker_tiers`` tier package, such as ``TrainingPipeline`` or ``ApprovalWorkflow``,
  found by walking the construct tree, so a new construct class is picked up without a change here), labelled
  with its class and id. A library construct holding more than one drawn thing becomes a subgraph of its own.
* **Drawn resources.** State machines, SNS topics, REST APIs, SageMaker resources (not user profiles, spaces and
  apps: their persona roles stand for them), model package groups (any resource with a literal
  ``ModelPackageGroupName``), and the Lambda functions that an arrow reaches. What exists only at run time appears
  through the grants and rules that name it: SSM parameters and SageMaker endpoints (dashed boxes), email
  subscribers and schedules (grey boxes).
* **Arrows**, each read from the templates:

  - an IAM grant of an action of :data:`FLOW_ACTIONS` (register, decide, promote, notify, start, invoke, deploy)
    on a drawn resource or named run-time resource, from the function, state machine or library construct whose
    role holds it;
  - an EventBridge rule, from what its event pattern names (a model package group, an SSM parameter, a bucket)
    or its schedule to each target, labelled with the detail type and filters (dotted);
  - a REST API method's Lambda integration, labelled with the methods and paths;
  - an SNS subscription; and the link an email carries, when a function that publishes to the topic has an
    environment variable holding the REST API's URL (dotted).

A grant on a name pattern (``parameter/app/registry/*``) is drawn to the concrete names other grants and rules
use, except those another principal holds an exact grant on; a pattern that matches no concrete name is drawn as a
box of its own if it is a prefix (wildcards only at the end), and left out otherwise (``endpoint/*canvas*`` names
no place). Ids come from construct paths (stable, no hashes); the output follows the construct tree's order, so
it is the same on every run.

Example::

    app = App()
    MyStack(app, "Ml")
    print(architecture_diagram(app).mermaid())   # paste into Markdown as a ```mermaid block
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import CfnResource, Stack, Stage
from constructs import Construct, IConstruct

#: IAM actions drawn as arrows: those that move a model from training to serving (register, decide, promote,
#: notify, start, invoke, deploy). Other grants (read a bucket, use a key, write logs) stay out of the picture.
FLOW_ACTIONS = frozenset(
    {
        "sagemaker:CreateModelPackage",
        "sagemaker:UpdateModelPackage",
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "ssm:PutParameter",
        "sns:Publish",
        "states:StartExecution",
        "lambda:InvokeFunction",
    }
)

#: Resource types always drawn, with the words their label starts with.
_ALWAYS_DRAWN = {
    "AWS::StepFunctions::StateMachine": "Step Functions state machine",
    "AWS::SNS::Topic": "SNS topic",
    "AWS::ApiGateway::RestApi": "API Gateway REST API",
}
#: Drawn only when an arrow reaches them.
_DRAWN_WHEN_CONNECTED = {"AWS::Lambda::Function": "Lambda function"}
#: SageMaker types left out: one per user, their persona roles stand for them.
_NOT_DRAWN = frozenset({"AWS::SageMaker::UserProfile", "AWS::SageMaker::Space", "AWS::SageMaker::App"})
_GROUP_KIND = "Model package group"
#: Construct ids CDK adds under an L2 construct; left out of labels and ids.
_DEFAULT_IDS = frozenset({"Resource", "Default"})
#: Library packages that hold no tier construct.
_NOT_TIERS = frozenset({"core", "cli"})
#: Event pattern content filters (not literal values).
_FILTER_KEYS = frozenset({"prefix", "suffix", "anything-but", "exists", "numeric", "wildcard", "equals-ignore-case", "cidr"})

_UNKNOWN = "\x00"  # stands for a part of a string known only at deploy time (a pseudo parameter, a reference)
_ARN = re.compile(r"arn:[^:]*:(?P<service>[a-z0-9-]+):[^:]*:[^:]*:(?P<resource>.+)")
#: Named run-time resources: (service, resource part of the ARN, kind).
_RUNTIME_ARNS = (
    ("ssm", re.compile(r"parameter(?P<name>/.+)"), "SSM parameter"),
    ("sagemaker", re.compile(r"endpoint/(?P<name>[^/]+)"), "SageMaker endpoint"),
)
_GROUP_ARN = re.compile(r"model-package(?:-group)?/(?P<name>[^/]+)(?:/.*)?")

Key = tuple[str, str]  # (stack name, logical id)
#: One end of an arrow: ("res", Key) a resource, ("tier", path) a library construct, ("run", "kind:name") a
#: run-time resource, ("email", topic Key) a topic's email subscribers, ("schedule" | "events", rule Key, text).
End = tuple[Any, ...]


@dataclass(frozen=True)
class DiagramNode:
    """One box: ``id`` is its Mermaid id, ``container`` the id of the subgraph it sits in."""

    id: str
    label: str
    container: str
    order: tuple[int, ...]
    style: str = ""  # "", "runtime" (exists only at run time) or "external" (email, schedule)


@dataclass(frozen=True)
class DiagramEdge:
    source: str
    target: str
    label: str
    dotted: bool = False


@dataclass(frozen=True)
class DiagramContainer:
    """A subgraph: a stack (``parent`` empty) or a library construct holding several drawn things."""

    id: str
    label: str
    parent: str
    order: tuple[int, ...]


@dataclass
class ArchitectureDiagram:
    """The diagram of one app; :meth:`mermaid` renders it."""

    containers: list[DiagramContainer] = field(default_factory=list)
    nodes: list[DiagramNode] = field(default_factory=list)
    edges: list[DiagramEdge] = field(default_factory=list)

    def node(self, label: str, *, within: str | None = None) -> DiagramNode:
        """The node labelled ``label``, in the subgraph labelled ``within`` if given.

        :raises KeyError: listing the labels, if there is none or more than one.
        """
        containers = {c.id for c in self.containers if c.label == within}
        found = [n for n in self.nodes if n.label == label and (within is None or n.container in containers)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} nodes labelled {label!r}; the labels are {sorted(n.label for n in self.nodes)}")
        return found[0]

    def edge_labels(self, source: str | DiagramNode, target: str | DiagramNode) -> list[str]:
        """The labels of the arrows from ``source`` to ``target`` (nodes, or the labels of nodes)."""
        s = source if isinstance(source, DiagramNode) else self.node(source)
        t = target if isinstance(target, DiagramNode) else self.node(target)
        return sorted(e.label for e in self.edges if e.source == s.id and e.target == t.id)

    def mermaid(self) -> str:
        """The diagram as Mermaid flowchart text (without the Markdown fence)."""
        lines = ["flowchart TB"]
        children: dict[str, list[DiagramContainer | DiagramNode]] = {}
        for container in self.containers:
            children.setdefault(container.parent, []).append(container)
        for node in self.nodes:
            children.setdefault(node.container, []).append(node)

        def emit(parent: str, depth: int) -> None:
            for item in sorted(children.get(parent, []), key=lambda i: (i.order, i.id)):
                pad = "  " * depth
                if isinstance(item, DiagramContainer):
                    lines.append(f'{pad}subgraph {item.id}["{_escape(item.label)}"]')
                    emit(item.id, depth + 1)
                    lines.append(f"{pad}end")
                else:
                    lines.append(f'{pad}{item.id}["{_escape(item.label)}"]')

        emit("", 1)
        for e in sorted(self.edges, key=lambda e: (e.source, e.target, e.dotted, e.label)):
            arrow = "-.->" if e.dotted else "-->"
            label = f'|"{_escape(e.label)}"|' if e.label else ""
            lines.append(f"  {e.source} {arrow}{label} {e.target}")
        for style, css in (("runtime", "stroke-dasharray: 5 4"), ("external", "fill:#f4f4f4,stroke-dasharray: 2 3")):
            ids = sorted(n.id for n in self.nodes if n.style == style)
            if ids:
                lines.append(f"  classDef {style} {css}")
                lines.append(f"  class {','.join(ids)} {style}")
        return "\n".join(lines) + "\n"


def architecture_diagram(app: Stage) -> ArchitectureDiagram:
    """The architecture of ``app`` (an ``App`` or ``Stage``, synthesized here if it was not yet), as the module
    docstring describes."""
    assembly = app.synth()
    return _Reader(app, Path(assembly.directory)).diagram()


# --------------------------------------------------------------------------------------------------------------


@dataclass
class _Resource:
    key: Key
    path: str  # construct path without the trailing default ids
    order: tuple[int, ...]
    type: str = ""
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Tier:
    path: str
    label: str
    stack: str
    order: tuple[int, ...]
    parent: str | None = None  # the enclosing library construct's path


@dataclass
class _Item:
    """A drawn thing before it gets its id: where it sits (a tier path or ``stack:<name>``) and its label."""

    end: End
    place: str
    order: tuple[int, ...]
    kind: str
    name: str
    id_text: str
    style: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind}: {self.name}" if self.name else self.kind


def _escape(text: str) -> str:
    return text.replace('"', "#quot;")


def _sanitize(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _is_tier_construct(construct: IConstruct) -> bool:
    """An instance of a public construct class of one of the library's tier packages."""
    cls = type(construct)
    parts = cls.__module__.split(".")
    return (
        isinstance(construct, Construct)
        and parts[0] == "sagemaker_tiers"
        and len(parts) > 1
        and parts[1] not in _NOT_TIERS
        and not cls.__name__.startswith("_")
    )


def _trim(path: str) -> str:
    parts = path.split("/")
    while len(parts) > 1 and parts[-1] in _DEFAULT_IDS:
        parts.pop()
    return "/".join(parts)


def _walk(root: IConstruct) -> Iterator[tuple[IConstruct, tuple[int, ...]]]:
    """Every construct under ``root`` in tree order, with its position in the tree (a sort key)."""
    todo: list[tuple[IConstruct, tuple[int, ...]]] = [(root, ())]
    while todo:
        construct, order = todo.pop()
        yield construct, order
        children = construct.node.children
        todo.extend((children[i], (*order, i)) for i in range(len(children) - 1, -1, -1))


def _strings(value: Any) -> Iterator[str]:
    """The literal strings of an event pattern (content filters such as ``{"prefix": ...}`` and references left
    out)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict) and not _FILTER_KEYS & set(value) and not any(k == "Ref" or k.startswith("Fn::") for k in value):
        for v in value.values():
            yield from _strings(v)


def _is_prefix_pattern(pattern: str) -> bool:
    stem = pattern.rstrip("*")
    return bool(stem) and not any(c in stem for c in "*?[")


class _Reader:
    """Reads the construct tree and the templates of one synthesized app."""

    def __init__(self, app: Stage, directory: Path) -> None:
        self.templates: dict[str, dict[str, Any]] = {}
        self.stacks: dict[str, tuple[int, ...]] = {}
        self.resources: dict[Key, _Resource] = {}
        self.tiers: dict[str, _Tier] = {}
        for construct, order in _walk(app):
            if isinstance(construct, Stack):
                self.stacks[construct.stack_name] = order
                self.templates[construct.stack_name] = json.loads((directory / construct.template_file).read_text())
            elif isinstance(construct, CfnResource):
                stack = construct.stack
                key = (stack.stack_name, stack.get_logical_id(construct))
                self.resources[key] = _Resource(key, _trim(construct.node.path), order)
            elif _is_tier_construct(construct):
                path = construct.node.path
                label = f"{type(construct).__name__} {construct.node.id}"
                self.tiers[path] = _Tier(path, label, Stack.of(construct).stack_name, order)
        for key, resource in list(self.resources.items()):
            body = self.templates.get(key[0], {}).get("Resources", {}).get(key[1])
            if body is None:  # not in the template (removed by an override)
                del self.resources[key]
                continue
            resource.type = body["Type"]
            resource.properties = body.get("Properties", {})
        for tier in self.tiers.values():
            tier.parent = self._innermost_tier(tier.path.rsplit("/", 1)[0])
        self.exports: dict[str, tuple[str, Any]] = {}
        for stack_name, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if isinstance(name, str):
                    self.exports[name] = (stack_name, output["Value"])
        self.ranks: dict[str, int] = {}  # run-time resource -> rank of what placed it (see add_runtime)
        self.groups = {
            r.properties["ModelPackageGroupName"]: r.key
            for r in self.resources.values()
            if isinstance(r.properties.get("ModelPackageGroupName"), str)
        }

    # ---- reading values ----------------------------------------------------------------------------------------

    def _innermost_tier(self, path: str) -> str | None:
        while path:
            if path in self.tiers:
                return path
            path = path.rsplit("/", 1)[0] if "/" in path else ""
        return None

    def refs(self, stack: str, value: Any) -> Iterator[Key]:
        """The resources ``value`` references anywhere inside it: ``Ref``, ``Fn::GetAtt``, and ``Fn::ImportValue``
        of another stack's export."""
        if isinstance(value, list):
            for v in value:
                yield from self.refs(stack, v)
        elif isinstance(value, dict):
            ref, get_att, imported = value.get("Ref"), value.get("Fn::GetAtt"), value.get("Fn::ImportValue")
            if isinstance(ref, str):
                if not ref.startswith("AWS::"):
                    yield (stack, ref)
            elif get_att is not None:
                yield (stack, get_att[0] if isinstance(get_att, list) else str(get_att).split(".")[0])
            elif isinstance(imported, str):
                if imported in self.exports:
                    yield from self.refs(*self.exports[imported])
            else:
                for v in value.values():
                    yield from self.refs(stack, v)

    def text(self, value: Any) -> str | None:
        """A string value with each part known only at deploy time replaced by a placeholder; None if it is not
        a string."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(self.text(p) or _UNKNOWN for p in parts)
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            return re.sub(r"\$\{[^}]+\}", _UNKNOWN, value["Fn::Sub"])
        return _UNKNOWN if isinstance(value, dict) else None

    def place(self, path: str, stack: str) -> str:
        tier = self._innermost_tier(path)
        return tier if tier is not None else f"stack:{stack}"

    # ---- arrows ----------------------------------------------------------------------------------------------

    def principals(self) -> dict[Key, End]:
        """Role -> what acts with it: its function or state machine, else the library construct holding it."""
        out: dict[Key, End] = {}
        for r in self.resources.values():
            prop = {"AWS::Lambda::Function": "Role", "AWS::StepFunctions::StateMachine": "RoleArn"}.get(r.type)
            if prop:
                for role in self.refs(r.key[0], r.properties.get(prop)):
                    out.setdefault(role, ("res", r.key))
        for r in self.resources.values():
            if r.type == "AWS::IAM::Role" and r.key not in out and (tier := self._innermost_tier(r.path)):
                out[r.key] = ("tier", tier)
        return out

    def flow_grants(self) -> Iterator[tuple[End, str, str, Any]]:
        """(principal, action without its service, stack, resource value) of every allowed flow action."""
        principals = self.principals()
        for r in self.resources.values():
            documents: list[tuple[list[Key], Any]] = []
            if r.type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                documents.append((list(self.refs(r.key[0], r.properties.get("Roles", []))), r.properties.get("PolicyDocument")))
            elif r.type == "AWS::IAM::Role":
                documents.extend(([r.key], p.get("PolicyDocument")) for p in r.properties.get("Policies", []))
            for roles, document in documents:
                for statement in (document or {}).get("Statement", []):
                    actions = statement.get("Action", [])
                    resources = statement.get("Resource", [])
                    if statement.get("Effect") != "Allow":
                        continue
                    for action in [actions] if isinstance(actions, str) else actions:
                        for role in roles if action in FLOW_ACTIONS else []:
                            if role in principals:
                                for value in resources if isinstance(resources, list) else [resources]:
                                    yield principals[role], action.split(":", 1)[1], r.key[0], value

    def grant_edges(self, edges: list[tuple[End, End, str, bool]], runtime: dict[str, _Item]) -> None:
        """Arrows of the flow grants; named run-time resources go into ``runtime``."""
        named: list[tuple[End, str, str, str]] = []  # (principal, action, kind, name or pattern)
        for principal, action, stack, value in self.flow_grants():
            edges.extend((principal, ("res", key), action, False) for key in self.refs(stack, value))
            arn = _ARN.fullmatch(self.text(value) or "")
            if arn is None or _UNKNOWN in arn["resource"]:
                continue
            service, resource = arn["service"], arn["resource"]
            if service == "sagemaker" and (group := _GROUP_ARN.fullmatch(resource)):
                edges.extend(
                    (principal, ("res", key), action, False)
                    for name, key in self.groups.items()
                    if fnmatch.fnmatchcase(name, group["name"])
                )
            for kind_service, pattern, kind in _RUNTIME_ARNS:
                if service == kind_service and (found := pattern.fullmatch(resource)):
                    named.append((principal, action, kind, found["name"]))
        exact = [(p, a, k, n) for p, a, k, n in named if not any(c in n for c in "*?[")]
        for principal, _, kind, name in exact:
            self.add_runtime(runtime, kind, name, principal, 0)
        exact_names = {(k, n) for _, _, k, n in exact}
        for principal, action, kind, name in named:
            if (kind, name) in exact_names:
                targets = [name]
            else:
                targets = [
                    item.name for item in runtime.values()
                    if item.kind == kind and fnmatch.fnmatchcase(item.name, name) and (kind, item.name) not in exact_names
                ]
                if not targets and not any(i.kind == kind and fnmatch.fnmatchcase(i.name, name) for i in runtime.values()):
                    if not _is_prefix_pattern(name):
                        continue
                    targets = [name]
            for target in targets:
                self.add_runtime(runtime, kind, target, principal, 0 if target == name else 1)
            edges.extend((principal, ("run", f"{kind}:{t}"), action, False) for t in targets)

    def add_runtime(self, runtime: dict[str, _Item], kind: str, name: str, creator: End, rank: int) -> None:
        """A run-time resource, placed beside what names it: a principal with an exact grant on it (rank 0),
        else one with a grant on a pattern (1), else the rule whose pattern names it (2); the first of a rank."""
        node = f"{kind}:{name}"
        if self.ranks.get(node, 3) <= rank:
            return
        self.ranks[node] = rank
        if creator[0] == "tier":
            tier = self.tiers[creator[1]]
            place, order = (tier.parent or f"stack:{tier.stack}"), tier.order
        else:
            r = self.resources[creator[1]]
            place, order = self.place(r.path, r.key[0]), r.order
        runtime[node] = _Item(("run", node), place, (*order, 1), kind, name, f"{kind} {name}", "runtime")

    def rule_edges(self, edges: list[tuple[End, End, str, bool]], runtime: dict[str, _Item]) -> None:
        """Arrows of every EventBridge rule, from what its pattern names (or its schedule) to its targets."""
        for r in self.resources.values():
            if r.type != "AWS::Events::Rule":
                continue
            stack = r.key[0]
            targets = [("res", k) for t in r.properties.get("Targets", []) for k in self.refs(stack, t.get("Arn"))]
            sources: list[End] = []
            label = "EventBridge schedule"
            if "ScheduleExpression" in r.properties:
                sources.append(("schedule", r.key, str(r.properties["ScheduleExpression"])))
            pattern = r.properties.get("EventPattern")
            if isinstance(pattern, dict):
                sources.extend(("res", key) for key in self.refs(stack, pattern))
                detail, used = pattern.get("detail", {}), set()
                for value in _strings(detail):
                    if value in self.groups:
                        sources.append(("res", self.groups[value]))
                        used.add(value)
                    elif "aws.ssm" in pattern.get("source", []) and value.startswith("/"):
                        self.add_runtime(runtime, "SSM parameter", value, ("res", r.key), 2)
                        sources.append(("run", f"SSM parameter:{value}"))
                        used.add(value)
                filters = [v for v in _strings(detail) if v not in used]
                kinds = ", ".join(map(str, pattern.get("detail-type", []) or pattern.get("source", [])))
                label = f"EventBridge: {kinds}" + (f" ({', '.join(filters)})" if filters else "")
                if not sources:
                    sources.append(("events", r.key, ", ".join(map(str, pattern.get("source", []))) or "events"))
            edges.extend((source, target, label, True) for source in sources for target in targets)

    def api_edges(self, edges: list[tuple[End, End, str, bool]]) -> None:
        """Arrows from a REST API to the functions its methods integrate, labelled with method and path."""
        for r in self.resources.values():
            if r.type != "AWS::ApiGateway::Method":
                continue
            stack = r.key[0]
            uri = r.properties.get("Integration", {}).get("Uri")
            functions = [k for k in self.refs(stack, uri) if self._type(k) == "AWS::Lambda::Function"]
            path = self._api_path(stack, r.properties.get("ResourceId"))
            for api in self.refs(stack, r.properties.get("RestApiId")):
                edges.extend((("res", api), ("res", f), f"{r.properties.get('HttpMethod')} {path}", False) for f in functions)

    def _type(self, key: Key) -> str:
        resource = self.resources.get(key)
        return resource.type if resource else ""

    def _api_path(self, stack: str, value: Any) -> str:
        parts: list[str] = []
        keys = list(self.refs(stack, value))
        while keys and self._type(keys[0]) == "AWS::ApiGateway::Resource":
            properties = self.resources[keys[0]].properties
            parts.append(str(properties.get("PathPart")))
            keys = list(self.refs(stack, properties.get("ParentId")))
        return "/" + "/".join(reversed(parts))

    def subscription_edges(self, edges: list[tuple[End, End, str, bool]]) -> dict[Key, int]:
        """Arrows of SNS subscriptions; returns each topic's number of email subscribers (drawn as one box)."""
        emails: dict[Key, int] = {}
        for r in self.resources.values():
            if r.type != "AWS::SNS::Subscription":
                continue
            stack = r.key[0]
            for topic in self.refs(stack, r.properties.get("TopicArn")):
                if str(r.properties.get("Protocol", "")).startswith("email"):
                    emails[topic] = emails.get(topic, 0) + 1
                else:
                    protocol = str(r.properties.get("Protocol"))
                    edges.extend((("res", topic), ("res", k), protocol, False) for k in self.refs(stack, r.properties.get("Endpoint")))
        for topic in emails:
            edges.append((("res", topic), ("email", topic), "email", False))
            # A publisher holding a REST API's URL in its environment sends links to that API.
            publishers = sorted({s[1] for s, t, label, _ in edges if t == ("res", topic) and label == "Publish" and s[0] == "res"})
            for publisher in publishers:
                variables = self.resources[publisher].properties.get("Environment", {}).get("Variables", {})
                for name, value in sorted(variables.items()):
                    edges.extend(
                        (("email", topic), ("res", k), f"link: {name}", True)
                        for k in self.refs(publisher[0], value)
                        if self._type(k) == "AWS::ApiGateway::RestApi"
                    )
        return emails

    # ---- the diagram -----------------------------------------------------------------------------------------

    def _kind(self, r: _Resource) -> str | None:
        if isinstance(r.properties.get("ModelPackageGroupName"), str):
            return _GROUP_KIND
        if r.type in _ALWAYS_DRAWN:
            return _ALWAYS_DRAWN[r.type]
        if r.type.startswith("AWS::SageMaker::") and r.type not in _NOT_DRAWN:
            return "SageMaker " + r.type.rsplit("::", 1)[1]
        return None

    def diagram(self) -> ArchitectureDiagram:
        edges: list[tuple[End, End, str, bool]] = []
        runtime: dict[str, _Item] = {}
        self.rule_edges(edges, runtime)
        self.grant_edges(edges, runtime)
        self.api_edges(edges)
        emails = self.subscription_edges(edges)

        connected = {end for s, t, _, _ in edges for end in (s, t)}
        items: list[_Item] = list(runtime.values())
        for r in self.resources.values():
            kind = self._kind(r) or (_DRAWN_WHEN_CONNECTED.get(r.type) if ("res", r.key) in connected else None)
            if kind is None:
                continue
            tier = self._innermost_tier(r.path)
            base = tier if tier is not None else r.key[0]
            relative = "/".join(p for p in r.path[len(base) + 1:].split("/") if p not in _DEFAULT_IDS)
            name = r.properties["ModelPackageGroupName"] if kind == _GROUP_KIND else relative
            items.append(_Item(("res", r.key), self.place(r.path, r.key[0]), r.order, kind, name, r.path))
        for topic, count in emails.items():
            r = self.resources[topic]
            subscribers = f"{count} subscriber" + ("s" if count > 1 else "")
            items.append(_Item(("email", topic), self.place(r.path, topic[0]), (*r.order, 2), "Email", subscribers, f"{r.path} email", "external"))
        for end in sorted({s for s, _, _, _ in edges if s[0] in ("schedule", "events")}):
            r = self.resources[end[1]]
            kind = "Schedule" if end[0] == "schedule" else "EventBridge"
            items.append(_Item(end, self.place(r.path, r.key[0]), (*r.order, 0), kind, end[2], f"{r.path} {end[0]}", "external"))
        return self._layout(items, edges)

    def _layout(self, items: list[_Item], edges: list[tuple[End, End, str, bool]]) -> ArchitectureDiagram:
        diagram = ArchitectureDiagram()
        used: set[str] = set()

        def new_id(prefix: str, text: str) -> str:
            base = f"{prefix}_{_sanitize(text)}"
            candidate, i = base, 2
            while candidate in used:
                candidate, i = f"{base}_{i}", i + 1
            used.add(candidate)
            return candidate

        inside: dict[str, list[_Item]] = {}
        for item in items:
            inside.setdefault(item.place, []).append(item)
        containers = {f"stack:{name}": new_id("s", name) for name, _ in sorted(self.stacks.items(), key=lambda s: s[1])}
        diagram.containers.extend(
            DiagramContainer(containers[f"stack:{name}"], f"Stack {name}", "", order) for name, order in self.stacks.items()
        )
        ids: dict[End, str] = {}
        has_inner_tier = {t.parent for t in self.tiers.values() if t.parent}
        for tier in sorted(self.tiers.values(), key=lambda t: t.order):
            parent = containers[tier.parent or f"stack:{tier.stack}"]
            content = inside.get(tier.path, [])
            if tier.path in has_inner_tier or len(content) > 1 or (content and content[0].style):
                containers[tier.path] = new_id("t", tier.path)
                diagram.containers.append(DiagramContainer(containers[tier.path], tier.label, parent, tier.order))
                continue
            # A library construct holding one drawn resource, or none, is one box.
            containers[tier.path] = parent
            node_id = new_id("n", tier.path)
            label = tier.label
            if content:
                only = content.pop()
                ids[only.end] = node_id
                label += f"<br/>{only.kind}" + (f" {only.name}" if only.kind == _GROUP_KIND and only.name not in tier.label else "")
            diagram.nodes.append(DiagramNode(node_id, label, parent, tier.order))
            ids[("tier", tier.path)] = node_id
        for item in sorted(items, key=lambda i: i.order):
            if item.end in ids:
                continue
            ids[item.end] = new_id("n", item.id_text)
            diagram.nodes.append(DiagramNode(ids[item.end], item.label, containers.get(item.place, ""), item.order, item.style))

        def resolve(end: End) -> str | None:
            """A drawn thing's id; for a resource that is not drawn, the box of the library construct holding it."""
            if end in ids or end[0] != "res":
                return ids.get(end)
            tier = self._innermost_tier(self.resources[end[1]].path) if end[1] in self.resources else None
            return ids.get(("tier", tier)) if tier else None

        labels: dict[tuple[str, str, bool], set[str]] = {}
        for s, t, label, dotted in edges:
            source, target = resolve(s), resolve(t)
            if source is not None and target is not None and source != target:
                labels.setdefault((source, target, dotted), set()).add(label)
        diagram.edges.extend(DiagramEdge(s, t, ", ".join(sorted(ls)), d) for (s, t, d), ls in labels.items())
        return diagram


__all__ = ["FLOW_ACTIONS", "ArchitectureDiagram", "DiagramContainer", "DiagramEdge", "DiagramNode", "architecture_diagram"]
