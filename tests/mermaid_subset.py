"""A syntax check of the Mermaid flowchart subset that ``sagemaker_tiers.core.diagram`` emits.

Mermaid's own parser needs a browser and the 200 MB ``mermaid`` npm package, so tests check the subset the
generator writes against Mermaid's flowchart grammar (https://mermaid.js.org/syntax/flowchart.html): a
``flowchart`` header with a direction; ``subgraph id["label"]`` ... ``end`` blocks, balanced; node declarations
``id["label"]``; edges ``a -->|"label"| b`` and ``a -.->|"label"| b``; ``classDef`` and ``class``. Ids are
unique, never a keyword, and every edge and class names declared nodes; quoted labels hold no ``"`` (Mermaid's
entity ``#quot;`` stands for it).
"""

from __future__ import annotations

import re

_ID = r"[A-Za-z][A-Za-z0-9_]*"
_LABEL = r'"[^"\n]*"'
_KEYWORDS = {"end", "subgraph", "graph", "flowchart", "style", "class", "classDef", "click", "linkStyle", "direction", "call", "href"}
_HEADER = re.compile(r"flowchart (TB|TD|BT|LR|RL)")
_SUBGRAPH = re.compile(rf"(?P<pad> *)subgraph (?P<id>{_ID})\[{_LABEL}\]")
_END = re.compile(r"(?P<pad> *)end")
_NODE = re.compile(rf"(?P<pad> *)(?P<id>{_ID})\[{_LABEL}\]")
_EDGE = re.compile(rf"  (?P<source>{_ID}) (?:-->|-\.->)(?:\|{_LABEL}\|)? (?P<target>{_ID})")
_CLASS_DEF = re.compile(rf"  classDef (?P<name>{_ID}) [a-z-]+:[^;\n]+(,[a-z-]+:[^;\n]+)*")
_CLASS = re.compile(rf"  class (?P<ids>{_ID}(?:,{_ID})*) (?P<name>{_ID})")


def mermaid_subset_errors(text: str) -> list[str]:
    """What in ``text`` breaks the subset's grammar; empty when it is valid."""
    lines = text.split("\n")
    errors: list[str] = []
    if not _HEADER.fullmatch(lines[0]):
        errors.append(f"line 1: expected 'flowchart <direction>', got {lines[0]!r}")
    if text.endswith("\n"):
        lines = lines[:-1]
    depth, subgraphs, nodes, class_defs = 0, set(), set(), set()
    for number, line in enumerate(lines[1:], start=2):
        if m := _SUBGRAPH.fullmatch(line):
            ident = m["id"]
            if len(m["pad"]) != 2 * (depth + 1):
                errors.append(f"line {number}: subgraph {ident} indented {len(m['pad'])}, expected {2 * (depth + 1)}")
            if ident in subgraphs | nodes:
                errors.append(f"line {number}: id {ident} declared twice")
            subgraphs.add(ident)
            depth += 1
        elif m := _END.fullmatch(line):
            depth -= 1
            if depth < 0:
                errors.append(f"line {number}: 'end' without a subgraph")
                depth = 0
        elif m := _NODE.fullmatch(line):
            ident = m["id"]
            if ident in subgraphs | nodes:
                errors.append(f"line {number}: id {ident} declared twice")
            nodes.add(ident)
        elif m := _EDGE.fullmatch(line):
            for end in (m["source"], m["target"]):
                if end not in nodes:
                    errors.append(f"line {number}: edge names {end}, which is no declared node")
        elif m := _CLASS_DEF.fullmatch(line):
            class_defs.add(m["name"])
        elif m := _CLASS.fullmatch(line):
            if m["name"] not in class_defs:
                errors.append(f"line {number}: class {m['name']} is used before its classDef")
            errors.extend(f"line {number}: class names {i}, which is no declared node" for i in m["ids"].split(",") if i not in nodes)
        else:
            errors.append(f"line {number}: not in the subset: {line!r}")
    if depth:
        errors.append(f"{depth} subgraph(s) never closed with 'end'")
    errors.extend(f"id {i} is a Mermaid keyword" for i in sorted((nodes | subgraphs) & _KEYWORDS))
    return errors
