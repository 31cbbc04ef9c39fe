"""A service with several consumer group members runs one broker per member, each subscribed to every topic of
the service under the one group id (the group splits the partitions between them)."""

from services.grading.app import build
from services.grading.settings import GradingSettings
from services.notifier.settings import NotifierSettings
from services.notifier.app import build as build_notifier


def subscribers(app):
    return [s for broker in app.state.runtime.brokers for s in broker.subscribers]


def test_grading_joins_its_group_with_three_members_on_their_own_brokers():
    app = build(GradingSettings(topic_prefix="t."))
    runtime = app.state.runtime
    assert len(runtime.brokers) == 3 and runtime.brokers[0] is runtime.broker
    assert [len(b.subscribers) for b in runtime.brokers] == [1, 1, 1]
    subs = subscribers(app)
    assert {s.group_id for s in subs} == {"t.crm-grading"}
    assert {tuple(sorted(s.topic_names_for_subscribe)) for s in subs} == {("t.crm.customers.v1", "t.crm.orders.v1")}


def test_one_member_unless_configured_and_none_when_consuming_is_off():
    assert len(build_notifier(NotifierSettings()).state.runtime.brokers) == 1
    assert len(build(GradingSettings(consumer_members=1)).state.runtime.brokers) == 1
    assert subscribers(build(GradingSettings(consumer_enabled=False))) == []
