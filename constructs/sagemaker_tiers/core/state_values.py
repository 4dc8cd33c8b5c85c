"""Values a state machine reads at run time, for the request builders of :mod:`sagemaker_tiers.core`.

A Step Functions task's ``Parameters`` take a literal (``"InstanceType": "ml.m5.xlarge"``) or a JSONPath into the
execution's state, marked by a key ending in ``.$`` (``"InstanceType.$": "$.run.instanceType"``). The builders take
either: a plain Python value is rendered as a literal, a :class:`StatePath` as a ``.$`` field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sagemaker_tiers.core.validation import ValidationError

T = TypeVar("T")


@dataclass(frozen=True)
class StatePath:
    """A value read from the execution's state at run time: a JSONPath (``$.run.jobName``, ``$$.Execution.Id``)
    or an intrinsic function (``States.Format('{}-1', $.run.id)``).

    :param path: The path or intrinsic, as Step Functions' ``Parameters`` take it after a ``.$`` key.
    """

    path: str

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not (self.path.startswith("$") or self.path.startswith("States.")):
            raise ValidationError(
                f"StatePath path must be a JSONPath starting with '$' or an intrinsic function 'States.*', got {self.path!r}"
            )


def state_path(path: str) -> StatePath:
    """``state_path("$.run.jobName")``: shorthand for :class:`StatePath`."""
    return StatePath(path)


def put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` in a task's parameters: ``key.$`` with the path for a :class:`StatePath`, else the literal."""
    if isinstance(value, StatePath):
        target[f"{key}.$"] = value.path
    else:
        target[key] = value


def literal(value: T | StatePath) -> T | None:
    """``value`` when it is a literal (checked at synth), ``None`` when it is read at run time."""
    return None if isinstance(value, StatePath) else value
