"""The consumer chassis applies a batch in arrival order, also across batched and per-event handlers."""

from types import SimpleNamespace

from shared.consumer import EventConsumer, Received, batched
from shared.settings import ServiceSettings
from shared import topics


class FakeSession:
    async def execute(self, _stmt, params):
        return SimpleNamespace(scalars=lambda: list(params["ids"]))


async def test_runs_of_a_batched_handler_never_jump_over_other_events():
    seen: list[str] = []

    @batched
    async def snapshots(session, items):
        seen.append("+".join(e.id for e, _ in items))

    async def visit(session, envelope, data):
        seen.append(envelope.id)

    consumer = EventConsumer(
        handlers={topics.CUSTOMERS: {"CustomerUpdated": snapshots, "VisitLogged": visit}},
        sessions=None, producer=None, settings=ServiceSettings(service="t"),
    )

    def item(event_id, handler):
        return Received(SimpleNamespace(topic=topics.CUSTOMERS), SimpleNamespace(id=event_id, type="x"), None, handler)

    batch = [item("u1", snapshots), item("u2", snapshots), item("v1", visit), item("u3", snapshots), item("v2", visit)]
    await consumer.apply_in(FakeSession(), batch)
    assert seen == ["u1+u2", "v1", "u3", "v2"]
