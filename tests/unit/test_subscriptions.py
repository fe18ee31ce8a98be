"""The hub's webhook subscription plan: one subscription, at its URL, for every folded event type."""

from __future__ import annotations

from stockbridge.config import HubSettings
from stockbridge.domain.subscriptions import (
    Registration,
    Subscription,
    fingerprint,
    plan_subscription,
)

URL = "http://127.0.0.1:8080/webhooks/clarus"
EVENTS = frozenset({"inventory.movement", "order.status_changed", "shipment.despatched"})
KEY = fingerprint("s3cret")


def _sub(sid: str, url: str = URL, events: frozenset[str] = EVENTS) -> Subscription:
    return Subscription(sid, url, events)


def test_none_yet_is_created() -> None:
    plan = plan_subscription([], None, URL, EVENTS, KEY)
    assert (plan.keep, plan.create, plan.delete) == (None, True, ())
    assert plan.reasons == (f"no subscription at {URL}",)


def test_the_recorded_one_is_kept_and_nothing_changes() -> None:
    plan = plan_subscription(
        [_sub("wh_1"), _sub("wh_2", "http://other/x")], Registration("wh_1", URL, KEY), URL, EVENTS, KEY
    )
    assert (plan.keep, plan.create, plan.delete, plan.changes) == ("wh_1", False, (), False)


def test_one_made_by_hand_at_the_url_is_adopted_and_duplicates_go() -> None:
    plan = plan_subscription([_sub("wh_1"), _sub("wh_2")], None, URL, EVENTS, KEY)
    assert (plan.keep, plan.create, plan.delete) == ("wh_1", False, ("wh_2",))
    recorded = plan_subscription(
        [_sub("wh_1"), _sub("wh_2")], Registration("wh_2", URL, KEY), URL, EVENTS, KEY
    )
    assert (recorded.keep, recorded.delete) == ("wh_2", ("wh_1",))


def test_missing_event_types_are_replaced() -> None:
    plan = plan_subscription([_sub("wh_1", events=frozenset({"inventory.movement"}))], None, URL, EVENTS, KEY)
    assert (plan.keep, plan.create, plan.delete) == (None, True, ("wh_1",))


def test_the_recorded_one_at_an_old_url_is_replaced() -> None:
    old = "http://127.0.0.1:9000/webhooks/clarus"
    plan = plan_subscription([_sub("wh_1", old)], Registration("wh_1", old, KEY), URL, EVENTS, KEY)
    assert (plan.keep, plan.create, plan.delete) == (None, True, ("wh_1",))
    assert f"wh_1 points at {old}" in plan.reasons


def test_deleted_at_the_warehouse_is_created_again() -> None:
    plan = plan_subscription([], Registration("wh_1", URL, KEY), URL, EVENTS, KEY)
    assert (plan.create, plan.delete) == (True, ())
    assert "wh_1 no longer exists" in plan.reasons


def test_a_rotated_secret_replaces_every_subscription_at_the_url() -> None:
    plan = plan_subscription(
        [_sub("wh_1"), _sub("wh_2")], Registration("wh_1", URL, fingerprint("old")), URL, EVENTS, KEY
    )
    assert (plan.keep, plan.create, set(plan.delete)) == (None, True, {"wh_1", "wh_2"})


def test_fingerprint_hides_the_secret() -> None:
    assert "s3cret" not in KEY
    assert fingerprint("s3cret") == KEY != fingerprint("s3cret2")


def test_the_hub_url_clarus_calls() -> None:
    assert HubSettings(port=9000).webhook_base() == "http://127.0.0.1:9000"
    assert HubSettings(host="0.0.0.0", port=9000).webhook_base(port=9100) == "http://127.0.0.1:9100"
    assert HubSettings(public_url="https://hub.example.com/").webhook_base(9100) == "https://hub.example.com"
