"""Step Functions building blocks for waiting on SageMaker: bounded poll loops and SDK tasks named after their API.

SageMaker sends no state-change events for AutoML jobs, endpoints are only ``InService`` when DescribeEndpoint
says so, and moto's interpreter cannot run ``.sync`` integrations: so the tiers poll. A poll loop must be bounded:
Step Functions keeps at most 25,000 events in one execution's history and fails the execution past that
(https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum execution history size").

* :func:`bounded_poll`: Wait -> Describe -> status Choice, whose default branch counts the poll and either waits
  again or, past ``limit``, goes to ``on_limit``.
* :func:`count_and_limit`: just the counter and its limit Choice, for loops shaped otherwise (a lookup retried
  after an error, a check before a wait).
* :func:`poll_limit`: how many polls a timeout allows, refused when they cannot fit an execution's history.
* :func:`sagemaker_call`: a SageMaker AWS SDK task whose IAM action is derived from its API action.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from sagemaker_tiers.core.validation import (
    ValidationError,
    require_duration,
    require_int_in_range,
    require_match,
    require_whole_seconds,
)

#: Step Functions' limit of events in one execution's history.
MAX_HISTORY_EVENTS = 25_000
#: History events of one round of :func:`bounded_poll`: Wait (2), a Task (5), the status Choice (2), the counting
#: Pass (2) and the limit Choice (2).
EVENTS_PER_POLL = 13
_JSON_PATH_FIELD = r"\$(\.[A-Za-z_][A-Za-z0-9_]*)+"


def sagemaker_call(scope: Construct, id: str, action: str, *, resources: Sequence[str], **props: Any) -> tasks.CallAwsService:
    """A SageMaker SDK task whose IAM action is the API action's (``describeEndpoint`` -> ``sagemaker:DescribeEndpoint``).

    :param scope: Where the state is created.
    :param id: State id.
    :param action: The SDK action in camel case, as Step Functions names it (``describeTrainingJob``).
    :param resources: ARNs the state machine's role gets the IAM action on (scope them: no ``*`` where IAM has a
        resource type).
    :param props: Further ``CallAwsService`` props (``parameters``, ``result_selector``, ``result_path``, ...).
    """
    require_match("action", action, r"[a-z][A-Za-z0-9]*", "a camel-case SageMaker API action such as 'describeEndpoint'")
    iam_action = f"sagemaker:{action[0].upper()}{action[1:]}"
    return tasks.CallAwsService(scope, id, service="sagemaker", action=action, iam_action=iam_action, iam_resources=list(resources), **props)


def poll_limit(timeout: Duration, interval: Duration, *, events_per_poll: int = EVENTS_PER_POLL, other_events: int = 0) -> int:
    """The polls a loop needs to wait ``timeout`` every ``interval`` (rounded up), refused at synth when they
    cannot fit one execution's history next to ``other_events`` events of the rest of the definition.

    :param timeout: How long the loop may wait in all.
    :param interval: The wait between polls.
    :param events_per_poll: History events per round. Default: :data:`EVENTS_PER_POLL`.
    :param other_events: Events the rest of the execution may take. Default: 0.
    """
    for prop, value in (("interval", interval), ("timeout", timeout)):
        require_whole_seconds(prop, value)
        require_duration(prop, value, minimum=Duration.seconds(1))
    polls = math.ceil(timeout.to_seconds() / interval.to_seconds())
    _require_history_room(polls, events_per_poll, other_events, f"timeout / interval ({timeout.to_human_string()} / {interval.to_human_string()})")
    return polls


def _require_history_room(limit: int, events_per_poll: int, other_events: int, what: str) -> None:
    events = limit * events_per_poll + other_events
    if events > MAX_HISTORY_EVENTS:
        raise ValidationError(
            f"{what} = {limit} polls must fit one execution's {MAX_HISTORY_EVENTS:,} history events (Step Functions "
            f"fails the execution past them), got about {events:,} events: poll less often or for less long"
        )


def count_and_limit(
    scope: Construct,
    *,
    count_id: str,
    limit_id: str,
    counter: str,
    limit: int,
    exceeded: sfn.IChainable,
    otherwise: sfn.IChainable,
    keep: Sequence[str] = (),
    inclusive: bool = False,
) -> sfn.Pass:
    """A Pass that adds one to ``counter``, then a Choice that goes to ``exceeded`` past ``limit``, else to
    ``otherwise``. Returns the Pass (what the loop goes to).

    The counter is a number field of an object in the state (``$.polls.count``); the Pass rewrites that object,
    so start it first (``{"count": 0}``) and name in ``keep`` any other field of the object to carry along.

    :param scope: Where the states are created.
    :param count_id: Id of the counting Pass (``"CountPoll"``).
    :param limit_id: Id of the limit Choice (``"PollBudgetLeft"``).
    :param counter: JSONPath of the counter, ``$.<object>.<field>`` (``$.run.pollCount``).
    :param limit: The bound, 0 or more.
    :param exceeded: Where the loop goes once the counter is past ``limit`` (a failure path).
    :param otherwise: Where it goes while within it (the Wait of the loop).
    :param keep: Other fields of the counter's object to keep. Default: none.
    :param inclusive: ``counter >= limit`` is past it (at most ``limit`` rounds) instead of ``counter > limit``
        (``limit`` rounds plus the first). Default: False.
    """
    require_match("counter", counter, _JSON_PATH_FIELD + r"\Z", "a JSONPath to a field of an object, such as '$.polls.count'")
    if counter.count(".") < 2:
        raise ValidationError(f"counter must be a field of an object in the state ('$.polls.count'), got {counter!r}")
    require_int_in_range("limit", limit, minimum=0)
    _require_history_room(limit, EVENTS_PER_POLL, 0, f"limit {limit}")
    parent, field = counter.rsplit(".", 1)
    for name in keep:
        require_match("keep", name, r"[A-Za-z_][A-Za-z0-9_]*", "field names of the counter's object")
    parameters: dict[str, Any] = {f"{name}.$": f"{parent}.{name}" for name in keep}
    parameters[f"{field}.$"] = f"States.MathAdd({counter}, 1)"
    count = sfn.Pass(scope, count_id, parameters=parameters, result_path=parent)
    past = sfn.Condition.number_greater_than_equals(counter, limit) if inclusive else sfn.Condition.number_greater_than(counter, limit)
    count.next(sfn.Choice(scope, limit_id).when(past, exceeded).otherwise(otherwise))
    return count


def bounded_poll(
    scope: Construct,
    *,
    describe: sfn.IChainable,
    status: sfn.Choice,
    interval: Duration,
    limit: int,
    on_limit: sfn.IChainable,
    counter: str,
    wait_id: str,
    count_id: str,
    limit_id: str,
    keep: Sequence[str] = (),
    inclusive: bool = False,
) -> sfn.Wait:
    """Wait ``interval`` -> ``describe`` -> ``status``; ``status``'s default branch counts the poll and waits again,
    or goes to ``on_limit`` once the count is past ``limit``. Returns the Wait: enter the loop there.

    Give ``status`` its outcomes first (``sfn.Choice(scope, "JobStatus").when(completed, next_step)...``); the
    loop sets its ``otherwise``. Give ``describe`` its retries and catches. Start the counter before the loop
    (see :func:`count_and_limit`). The bound must fit an execution's history (:func:`poll_limit` computes it from a
    timeout).

    :param scope: Where the states are created.
    :param describe: The task that reads the status (``sagemaker_call(..., "describeAutoMLJobV2", ...)``).
    :param status: The Choice on the status, without a default branch.
    :param interval: Wait between polls, 1 second or more.
    :param limit: Polls past which the loop gives up (see ``inclusive``).
    :param on_limit: Where it goes then (stop the job, notify, fail).
    :param counter: JSONPath of the poll counter (``$.polls.count``).
    :param wait_id: Id of the Wait state.
    :param count_id: Id of the counting Pass.
    :param limit_id: Id of the limit Choice.
    :param keep: Other fields of the counter's object to keep. Default: none.
    :param inclusive: Give up at ``counter >= limit`` instead of ``counter > limit``. Default: False.
    """
    require_whole_seconds("interval", interval)
    require_duration("interval", interval, minimum=Duration.seconds(1))
    if not isinstance(status, sfn.Choice):
        raise ValidationError(f"status must be an aws_stepfunctions.Choice, got {status!r}")
    wait = sfn.Wait(scope, wait_id, time=sfn.WaitTime.duration(interval))
    status.otherwise(
        count_and_limit(
            scope,
            count_id=count_id,
            limit_id=limit_id,
            counter=counter,
            limit=limit,
            exceeded=on_limit,
            otherwise=wait,
            keep=keep,
            inclusive=inclusive,
        )
    )
    sfn.Chain.start(wait).next(describe).next(status)
    return wait
