"""How a run that failed ends: the error goes to the run's topic, then the execution fails with it.

The training pipeline and both JumpStart constructs end a failed run this one way, so the notification and the
error a caller sees (``DescribeExecution``'s ``error``/``cause``) read the same in every tier.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


def notify_then_fail(states: Construct, topic: sns.ITopic, *, subject: str, message: str, error: str) -> sfn.CustomState:
    """``NotifyFailure`` (publish ``$.error`` to ``topic``, 3 retries) then ``EndWithError``, which fails the
    execution with ``$.error``'s ``Error`` and ``Cause``. Returns the notify state: send failures to it with
    ``result_path="$.error"``.

    Error names starting with ``States.`` are reserved for Step Functions, so those end under ``error`` with the
    whole ``$.error`` as the cause. A notification that cannot be sent still fails the run with its error.

    :param subject: The notification's subject (at most 100 characters, SNS's limit).
    :param message: A ``States.Format`` template with three ``{}``: the execution ARN, the state machine's name and
        the error as JSON. Single quotes are not allowed in it.
    :param error: The error name for ``States.*`` errors (``"TrainingPipeline.Failed"``).
    """
    partition = Stack.of(states).partition
    failed = (
        sfn.Choice(states, "EndWithError")
        .when(
            sfn.Condition.string_matches("$.error.Error", "States.*"),
            sfn.Fail(states, "FailedInStepFunctions", error=error, cause_path="States.JsonToString($.error)"),
        )
        .otherwise(sfn.Fail(states, "Failed", error_path="$.error.Error", cause_path="$.error.Cause"))
    )
    notify = sfn.CustomState(
        states,
        "NotifyFailure",
        state_json={
            "Type": "Task",
            "Resource": f"arn:{partition}:states:::sns:publish",
            "Parameters": {
                "TopicArn": topic.topic_arn,
                "Subject": subject,
                "Message.$": f"States.Format('{message}', $$.Execution.Id, $$.StateMachine.Name, States.JsonToString($.error))",
            },
            "ResultPath": "$.notification",
        },
    )
    notify.add_retry(errors=["States.ALL"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
    notify.add_catch(failed, errors=["States.ALL"], result_path="$.notificationError")
    notify.next(failed)
    return notify
