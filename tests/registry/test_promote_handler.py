"""promote.handler: reconcile <prefix>/<group>/approved-model with the highest approved version."""

from __future__ import annotations

from tests.conftest import lambda_context

import time

import approval_common as common
import approval_promote as promote
import pytest

PARAM = "/sagemaker-tiers/registry/churn/approved-model"


@pytest.fixture
def list_calls(registry, monkeypatch):
    """Records every ListModelPackages request (and still performs it)."""
    sagemaker = common.client("sagemaker")
    real = sagemaker.list_model_packages
    calls: list[dict] = []

    def recording(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(sagemaker, "list_model_packages", recording)
    return calls


def approve(registry, arn):
    registry.set_status(arn, "Approved")
    return registry.state_change_event(arn)


def reject(registry, arn):
    registry.set_status(arn, "Rejected")
    return registry.state_change_event(arn)


def test_first_approval_writes_the_package_arn(registry):
    v1 = registry.create_package("churn")
    result = promote.handler(approve(registry, v1), lambda_context())

    assert result == {"status": "updated", "parameter": PARAM, "value": v1}
    parameter = registry.ssm.get_parameter(Name=PARAM)["Parameter"]
    assert parameter["Value"] == v1 and parameter["Type"] == "String"
    [entry] = registry.parameter_history("churn")
    assert entry["Description"] == "Approved model package of group churn: version 1"


def test_duplicate_event_writes_nothing(registry):
    v1 = registry.create_package("churn")
    event = approve(registry, v1)
    promote.handler(event, lambda_context())

    assert promote.handler(event, lambda_context()) == {"status": "unchanged", "parameter": PARAM, "value": v1}
    assert promote.handler(registry.state_change_event(v1), lambda_context())["status"] == "unchanged"
    assert len(registry.parameter_history("churn")) == 1


def test_older_version_event_delivered_last_keeps_the_newer_version(registry):
    v1 = registry.create_package("churn")
    v2 = registry.create_package("churn")
    v1_event = approve(registry, v1)
    promote.handler(v1_event, lambda_context())
    promote.handler(approve(registry, v2), lambda_context())
    assert registry.parameter("churn") == v2

    assert promote.handler(v1_event, lambda_context())["status"] == "unchanged"
    assert registry.parameter("churn") == v2
    assert [h["Value"] for h in registry.parameter_history("churn")] == [v1, v2]


def test_events_out_of_order_write_once(registry):
    v1 = registry.create_package("churn")
    v2 = registry.create_package("churn")
    v1_event = approve(registry, v1)
    v2_event = approve(registry, v2)

    assert promote.handler(v2_event, lambda_context())["value"] == v2
    assert promote.handler(v1_event, lambda_context())["status"] == "unchanged"
    assert [h["Value"] for h in registry.parameter_history("churn")] == [v2]


def test_rejections_move_the_parameter_back_then_to_none(registry):
    v1 = registry.create_package("churn")
    v2 = registry.create_package("churn")
    promote.handler(approve(registry, v1), lambda_context())
    promote.handler(approve(registry, v2), lambda_context())

    assert promote.handler(reject(registry, v2), lambda_context()) == {"status": "updated", "parameter": PARAM, "value": v1}
    assert registry.parameter("churn") == v1

    assert promote.handler(reject(registry, v1), lambda_context()) == {"status": "updated", "parameter": PARAM, "value": "NONE"}
    assert registry.parameter("churn") == promote.NONE == "NONE"
    history = registry.parameter_history("churn")
    assert [h["Value"] for h in history] == [v1, v2, v1, "NONE"]
    assert history[-1]["Description"] == "Approved model package of group churn: none approved"
    assert history[-2]["Description"] == "Approved model package of group churn: version 1"

    # Nothing approved and already NONE: no further write.
    assert promote.handler(registry.state_change_event(v1), lambda_context())["status"] == "unchanged"
    assert len(registry.parameter_history("churn")) == 4


def test_nothing_approved_and_no_parameter_creates_nothing(registry):
    v1 = registry.create_package("churn")
    result = promote.handler(reject(registry, v1), lambda_context())
    assert result == {"status": "unchanged", "parameter": PARAM, "value": None}
    assert registry.parameter("churn") is None


def test_a_parameter_changed_by_hand_is_reconciled(registry):
    v1 = registry.create_package("churn")
    registry.set_status(v1, "Approved")
    registry.ssm.put_parameter(Name=PARAM, Value="something-else", Type="String")
    assert promote.handler(registry.state_change_event(v1), lambda_context())["status"] == "updated"
    assert registry.parameter("churn") == v1


def test_groups_are_independent(registry):
    churn = registry.create_package("churn")
    fraud = registry.create_package("fraud")
    promote.handler(approve(registry, churn), lambda_context())
    promote.handler(approve(registry, fraud), lambda_context())
    assert registry.parameter("churn") == churn
    assert registry.parameter("fraud") == fraud


def test_group_outside_the_watched_groups_is_ignored(registry, list_calls):
    other = registry.create_package("other")
    assert promote.handler(approve(registry, other), lambda_context()) == {"status": "ignored"}
    assert list_calls == []
    assert registry.parameter("other") is None


def test_many_pages_of_packages(registry, monkeypatch, list_calls):
    monkeypatch.setattr(promote, "PAGE_SIZE", 2)
    arns = [registry.create_package("churn") for _ in range(7)]
    for arn in arns[:5]:
        registry.set_status(arn, "Approved")
    registry.set_status(arns[5], "Rejected")  # v6 rejected, v7 still pending

    result = promote.handler(registry.state_change_event(arns[0]), lambda_context())

    assert result["value"] == arns[4]
    # The reconcile's listing (the pending-approvals gauge lists PendingManualApproval packages afterwards).
    reconcile_calls = [c for c in list_calls if c["ModelApprovalStatus"] == "Approved"]
    assert len(reconcile_calls) >= 3
    assert all(c["MaxResults"] == 2 for c in reconcile_calls)
    assert all(c["ModelPackageGroupName"] == "churn" for c in reconcile_calls)
    assert "NextToken" not in reconcile_calls[0] and "NextToken" in reconcile_calls[-1]
    assert registry.parameter_history("churn")[-1]["Description"].endswith("version 5")


def test_version_is_parsed_from_the_arn_when_the_summary_lacks_it(registry, monkeypatch):
    base = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/"
    pages = {
        None: {
            "ModelPackageSummaryList": [
                {"ModelPackageArn": base + "9", "ModelApprovalStatus": "Approved"},
                {"ModelPackageArn": base + "10", "ModelApprovalStatus": "Approved"},
            ],
            "NextToken": "page-2",
        },
        "page-2": {"ModelPackageSummaryList": [{"ModelPackageArn": base + "2", "ModelApprovalStatus": "Approved"}]},
    }
    monkeypatch.setattr(
        common.client("sagemaker"), "list_model_packages", lambda **kw: pages[kw.get("NextToken")]
    )
    assert promote.latest_approved("churn") == (base + "10", 10)


def _event(registry):
    return registry.state_change_event(registry.create_package("churn"))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("detail-type"),
        lambda e: e.update({"detail-type": "SageMaker Model Package Group State Change"}),
        lambda e: e.update({"source": "my.app"}),
        lambda e: e.pop("detail"),
        lambda e: e.update({"detail": []}),
        lambda e: e["detail"].pop("ModelPackageGroupName"),
        lambda e: e["detail"].update({"ModelPackageGroupName": "../etc"}),
        lambda e: e["detail"].update({"ModelPackageGroupName": "fraud"}),  # ARN of churn
        lambda e: e["detail"].pop("ModelPackageArn"),
        lambda e: e["detail"].update({"ModelPackageArn": "arn:aws:s3:::bucket"}),
    ],
)
def test_malformed_event_raises(registry, mutate, list_calls):
    event = _event(registry)
    mutate(event)
    with pytest.raises(promote.MalformedEvent):
        promote.handler(event, lambda_context())
    assert list_calls == []


def test_malformed_non_dict_event_raises():
    with pytest.raises(promote.MalformedEvent):
        promote.parse_event("nope")


def test_prefix_with_trailing_slash_is_tolerated(registry, monkeypatch):
    monkeypatch.setenv("PARAMETER_PREFIX", "/sagemaker-tiers/registry/")
    v1 = registry.create_package("churn")
    assert promote.handler(approve(registry, v1), lambda_context())["parameter"] == PARAM


def test_prefix_must_be_a_path(registry, monkeypatch):
    monkeypatch.setenv("PARAMETER_PREFIX", "sagemaker-tiers")
    v1 = registry.create_package("churn")
    with pytest.raises(common.ConfigError):
        promote.handler(approve(registry, v1), lambda_context())


def test_version_taken_back_to_pending_stops_being_the_approved_model(registry):
    v1 = registry.create_package("churn")
    v2 = registry.create_package("churn")
    promote.handler(approve(registry, v1), lambda_context())
    promote.handler(approve(registry, v2), lambda_context())
    assert registry.parameter("churn") == v2

    registry.set_status(v2, "PendingManualApproval")  # taken back in Studio or with the CLI
    event = registry.state_change_event(v2)
    assert event["detail"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert promote.handler(event, lambda_context()) == {"status": "updated", "parameter": PARAM, "value": v1}

    registry.set_status(v1, "PendingManualApproval")
    assert promote.handler(registry.state_change_event(v1), lambda_context())["value"] == "NONE"


# -- per-group serialization (a lease in the approval table, no reserved concurrency) ----------------------


class FakeClock:
    """Time that moves only when the handler sleeps; ``on_sleep`` runs at each sleep (another invocation's move)."""

    def __init__(self, start: float = 1_800_000_000.0, on_sleep=None) -> None:
        self.now, self.sleeps, self.on_sleep = start, 0, on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(self)


def _config():
    return promote.Config.from_env()


def test_a_reconcile_takes_and_releases_its_group_lock(registry, monkeypatch):
    v1 = registry.create_package("churn")
    registry.set_status(v1, "Approved")
    seen: list = []
    real = promote.reconcile
    monkeypatch.setattr(promote, "reconcile", lambda g, c: seen.append(registry.item("promote-lock#churn")) or real(g, c))

    assert promote.handler(registry.state_change_event(v1), lambda_context())["value"] == v1
    [held] = seen
    assert held["owner"]["S"] and int(held["expires_at"]["N"]) > time.time() + promote.LOCK_WAIT_SECONDS
    assert registry.item("promote-lock#churn") is None


def test_a_held_lock_is_waited_for_then_the_newest_view_is_written(registry):
    v1 = registry.create_package("churn")
    v2 = registry.create_package("churn")
    registry.set_status(v1, "Approved")
    clock = FakeClock()
    assert promote.acquire_lock(registry.table_name, "churn", "other-invocation", clock())

    def holder_finishes(c):  # the holder writes its (older) view and releases after two polls
        if c.sleeps == 2:
            promote.reconcile("churn", _config())
            registry.set_status(v2, "Approved")
            promote.release_lock(registry.table_name, "churn", "other-invocation")

    clock.on_sleep = holder_finishes
    result = promote.reconcile_serialized("churn", _config(), "me", clock=clock, sleep=clock.sleep)

    assert result["value"] == v2 and clock.sleeps == 2
    assert [h["Value"] for h in registry.parameter_history("churn")] == [v1, v2]
    assert registry.item("promote-lock#churn") is None


def test_a_lock_held_for_the_whole_wait_fails_for_a_retry_and_writes_nothing(registry):
    v1 = registry.create_package("churn")
    registry.set_status(v1, "Approved")
    clock = FakeClock()
    promote.acquire_lock(registry.table_name, "churn", "other-invocation", clock())

    with pytest.raises(promote.GroupBusy, match="churn"):
        promote.reconcile_serialized("churn", _config(), "me", clock=clock, sleep=clock.sleep)
    assert registry.parameter("churn") is None
    assert registry.item("promote-lock#churn")["owner"]["S"] == "other-invocation"
    assert clock.now - 1_800_000_000.0 >= promote.LOCK_WAIT_SECONDS


def test_the_lease_outlives_the_function_timeout_and_a_dead_holders_lock_is_taken_over(registry):
    v1 = registry.create_package("churn")
    registry.set_status(v1, "Approved")
    start = 1_800_000_000.0
    promote.acquire_lock(registry.table_name, "churn", "died", start)
    # Still held at the end of the longest run the holder could have (the function's 25-second timeout).
    assert not promote.acquire_lock(registry.table_name, "churn", "me", start + 25)
    assert promote.LOCK_WAIT_SECONDS < 25 < promote.LOCK_LEASE_SECONDS

    clock = FakeClock(start + promote.LOCK_LEASE_SECONDS + 1)
    assert promote.reconcile_serialized("churn", _config(), "me", clock=clock, sleep=clock.sleep)["value"] == v1
    assert clock.sleeps == 0 and registry.item("promote-lock#churn") is None


def test_groups_do_not_wait_for_each_other(registry):
    v1 = registry.create_package("fraud")
    registry.set_status(v1, "Approved")
    clock = FakeClock()
    promote.acquire_lock(registry.table_name, "churn", "other-invocation", clock())

    assert promote.reconcile_serialized("fraud", _config(), "me", clock=clock, sleep=clock.sleep)["value"] == v1
    assert clock.sleeps == 0


def test_the_lock_is_released_when_the_reconcile_fails(registry, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("SageMaker is down")

    monkeypatch.setattr(common.client("sagemaker"), "list_model_packages", broken)
    with pytest.raises(RuntimeError, match="down"):
        promote.reconcile_serialized("churn", _config(), "me")
    assert registry.item("promote-lock#churn") is None


def test_a_taken_over_lock_is_not_released_by_its_former_holder(registry):
    promote.acquire_lock(registry.table_name, "churn", "slow", 1_000.0)
    promote.acquire_lock(registry.table_name, "churn", "new", 1_000.0 + promote.LOCK_LEASE_SECONDS + 1)
    promote.release_lock(registry.table_name, "churn", "slow")
    assert registry.item("promote-lock#churn")["owner"]["S"] == "new"


def test_the_table_is_required(registry, monkeypatch):
    monkeypatch.delenv("TABLE_NAME")
    v1 = registry.create_package("churn")
    with pytest.raises(common.ConfigError, match="TABLE_NAME"):
        promote.handler(approve(registry, v1), lambda_context())


SCHEDULED = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}, "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcile"]}


def test_the_schedule_heals_every_watched_group_after_lost_events(registry):
    # SageMaker's events reach EventBridge best-effort: approvals whose events never arrived leave the parameters
    # stale (churn missing, fraud pointing at a version rejected since).
    churn_v1 = registry.create_package("churn")
    registry.set_status(churn_v1, "Approved")  # its event was lost
    fraud_v1, fraud_v2 = registry.create_package("fraud"), registry.create_package("fraud")
    promote.handler(approve(registry, fraud_v2), lambda_context())
    registry.set_status(fraud_v1, "Approved")
    registry.set_status(fraud_v2, "Rejected")  # its event was lost too

    result = promote.handler(SCHEDULED, lambda_context())

    assert result == {"status": "reconciled", "groups": {"churn": "updated", "fraud": "updated"}}
    assert registry.ssm.get_parameter(Name=PARAM)["Parameter"]["Value"] == churn_v1
    assert registry.ssm.get_parameter(Name="/sagemaker-tiers/registry/fraud/approved-model")["Parameter"]["Value"] == fraud_v1
    # Nothing lost since: the next run writes nothing.
    assert promote.handler(SCHEDULED, lambda_context()) == {"status": "reconciled", "groups": {"churn": "unchanged", "fraud": "unchanged"}}
    assert len(registry.parameter_history("churn")) == 1


def test_a_group_that_fails_to_reconcile_fails_the_run_after_the_others(registry, monkeypatch):
    churn_v1 = registry.create_package("churn")
    registry.set_status(churn_v1, "Approved")
    real = promote.latest_approved

    def failing(group):
        if group == "fraud":
            raise RuntimeError("throttled")
        return real(group)

    monkeypatch.setattr(promote, "latest_approved", failing)
    with pytest.raises(RuntimeError, match="reconcile failed for fraud"):
        promote.handler(SCHEDULED, lambda_context())
    assert registry.ssm.get_parameter(Name=PARAM)["Parameter"]["Value"] == churn_v1  # churn healed anyway
