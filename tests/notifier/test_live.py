"""The notifier as real processes on a real broker and PostgreSQL, with a local SMTP server (aiosmtpd)
and a local webhook receiver: delivery, the API, two scheduler replicas, downtime, SLA escalation."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import httpx
import jsonschema
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from services.notifier.domain import signature
from shared import events, topics
from shared.local import free_port
from tests.harness import ADMIN, auth, event_bytes, eventually, produce, read_topic
from tests.notifier.conftest import customer

pytestmark = pytest.mark.integration
SECRET = "webhook-secret-0123456789"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, box
    controller.stop()


@pytest.fixture
def webhooks():
    received: list[tuple[str, dict, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, dict(self.headers), body))
            if self.path == "/hanging":
                time.sleep(15)  # longer than the policy's delivery timeout
            self.send_response(500 if self.path == "/broken" else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()


def policy_file(tmp_path, extra: str = "") -> str:
    path = tmp_path / "policy.toml"
    path.write_text(
        "[notifier]\nworking_hours_only = false\n"
        '[notifier.delivery]\nretry_initial = "PT0.2S"\nretry_max = "PT1S"\nmax_attempts = 3\ntimeout = "PT2S"\n' + extra
    )
    return str(path)


def now() -> datetime:
    return datetime.now(timezone.utc)


async def test_follow_ups_are_published_mailed_and_posted_signed_and_a_broken_webhook_blocks_nobody(world, tmp_path, smtp, webhooks):
    smtp_port, mailbox = smtp
    hook_url, received = webhooks
    await world.prepare("notifier")
    notifier = world.start("notifier", SMTP_PORT=str(smtp_port), CRM_POLICY_FILE=policy_file(tmp_path))
    notifier.wait_ready()
    for rid, body in {
        "rep-1": {"email": "rep1@example.com", "webhook_url": f"{hook_url}/rep-1", "webhook_secret": SECRET},
        "rep-2": {"webhook_url": f"{hook_url}/broken", "webhook_secret": SECRET},
        "rep-3": {"webhook_url": f"{hook_url}/hanging", "webhook_secret": SECRET},
    }.items():
        assert httpx.put(f"{notifier.url}/recipients/{rid}", json=body, headers=ADMIN).status_code == 200
    bad = httpx.put(f"{notifier.url}/recipients/rep-3", json={"webhook_url": "not a url", "webhook_secret": SECRET}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["field"] == "webhook_url"

    started = (now() - timedelta(days=4)).isoformat()
    await produce(world.bootstrap, world.topic(topics.CUSTOMERS), [
        event_bytes(customer("c1", owner="rep-1")),
        event_bytes(customer("c2", owner="rep-2")),
        event_bytes(customer("c3", owner="rep-3", team="team-west")),
        *[event_bytes(events.VisitLogged.model_validate(dict(
            visit_id=f"v-{c}", customer_id=c, rep_id=rep, channel="phone", started_at=started, first_visit=False, outcome="undecided",
        ))) for c, rep in (("c1", "rep-1"), ("c2", "rep-2"), ("c3", "rep-3"))],
    ])

    # published on crm.notifications.v1 via the outbox, as contract CloudEvents
    records = await eventually(lambda: read_topic(world.bootstrap, world.topic(topics.NOTIFICATIONS)), until=lambda r: len(r) >= 3)
    docs = [json.loads(r.value) for r in records]
    for doc in docs:
        jsonschema.validate(doc, events.json_schema("FollowUpDue"))
    assert sorted((d["data"]["customer_id"], d["data"]["kind"], d["data"]["rep_id"]) for d in docs) == [
        ("c1", "decision_call", "rep-1"), ("c2", "decision_call", "rep-2"), ("c3", "decision_call", "rep-3")
    ]
    # e-mail through a real SMTP server
    await eventually(lambda: mailbox.messages)
    assert b"To: rep1@example.com" in mailbox.messages[0] and b"decision_call" in mailbox.messages[0]
    # webhook: the JSON body signed with HMAC-SHA256
    await eventually(lambda: [r for r in received if r[0] == "/rep-1"])
    _, headers, body = next(r for r in received if r[0] == "/rep-1")
    assert headers["X-CRM-Signature"] == signature(SECRET, body)
    assert json.loads(body)["type"] == "FollowUpDue"
    # the broken endpoint is retried with backoff, logged, then given up; the others were sent meanwhile
    await eventually(lambda: world.scalar("notifier", "SELECT status FROM deliveries WHERE recipient_id = 'rep-2'"), until=lambda s: s == "failed")
    attempts = await world.rows("notifier", "SELECT a.attempt, a.ok, a.detail FROM delivery_attempts a JOIN deliveries d USING (delivery_id) WHERE d.recipient_id = 'rep-2' ORDER BY a.attempt")
    assert [(a.attempt, a.ok) for a in attempts] == [(1, False), (2, False), (3, False)] and "500" in attempts[0].detail
    assert len([r for r in received if r[0] == "/broken"]) == 3
    assert {r.status for r in await world.rows("notifier", "SELECT status FROM deliveries WHERE recipient_id = 'rep-1'")} == {"sent"}
    # a hanging endpoint is cut off at the delivery timeout and retried; it held up no one
    hanging = await eventually(lambda: world.rows("notifier", "SELECT a.detail FROM delivery_attempts a JOIN deliveries d USING (delivery_id) WHERE d.recipient_id = 'rep-3'"))
    assert "Timeout" in hanging[0].detail

    # the API: a rep's overdue items and agenda, marking done, scope
    rep1 = auth("rep-1", "rep", "team-east")
    today = now().astimezone(ZoneInfo("Asia/Shanghai")).date()  # the agenda's days are the policy's local days
    month = f"from={today}&to={today + timedelta(days=31)}"
    agenda = httpx.get(f"{notifier.url}/followups?{month}", headers=rep1).json()
    assert [(f["customer_id"], f["kind"]) for f in agenda["overdue"]] == [("c1", "decision_call")]
    assert [f["kind"] for day in agenda["agenda"] for f in day["followups"]] == ["cadence"]  # C: 30 days after the visit
    team = httpx.get(f"{notifier.url}/followups", headers=auth("boss", "manager", "team-east")).json()
    assert {f["customer_id"] for f in team["overdue"]} == {"c1", "c2"}
    assert httpx.get(f"{notifier.url}/followups?rep_id=rep-2", headers=rep1).status_code == 403
    fid = agenda["overdue"][0]["followup_id"]
    assert httpx.post(f"{notifier.url}/followups/{fid}/done", json={"outcome": "maybe"}, headers=rep1).json()["field"] == "outcome"
    assert httpx.post(f"{notifier.url}/followups/{fid}/done", json={"outcome": "won"}, headers=auth("rep-2", "rep", "team-east")).status_code == 404
    assert httpx.post(f"{notifier.url}/followups/{fid}/done", json={"outcome": "won"}, headers=rep1).status_code == 200
    assert httpx.post(f"{notifier.url}/followups/{fid}/done", json={"outcome": "won"}, headers=rep1).status_code == 409
    assert httpx.get(f"{notifier.url}/followups", headers=rep1).json()["overdue"] == []
    assert httpx.get(f"{notifier.url}/followups?from=2026-12-01&to=2026-11-01", headers=rep1).json()["field"] == "to"


async def test_two_replicas_fire_each_timer_once_and_what_fell_due_while_down_fires_on_return(world):
    await world.prepare("notifier")
    replicas = [world.start("notifier", SCHEDULER_POLL_SECONDS="0.05") for _ in range(2)]
    for r in replicas:
        r.wait_ready()

    async def schedule(n: int, offset: str, prefix: str) -> None:
        async with world.engine("notifier").begin() as conn:
            await conn.execute(sa.text(
                f"""INSERT INTO followups (followup_id, customer_id, rep_id, team_id, kind, due_at, fire_at, proactive)
                    SELECT '{prefix}' || i, 'c' || (i % 97), 'rep-1', 'team-east', 'commitment', now() + interval '{offset}',
                           now() + interval '{offset}', false
                    FROM generate_series(1, {n}) i"""
            ))

    await schedule(400, "1 second", "f")  # both replicas find them due at the same moment
    fired = lambda: world.scalar("notifier", "SELECT count(*) FROM outbox WHERE event_type = 'FollowUpDue'")  # noqa: E731
    await eventually(fired, until=lambda n: n >= 400)
    for r in replicas:
        r.kill()
    await schedule(50, "1 second", "down")  # falls due while the service is down
    await schedule(5, "8 days", "later")  # due in a week: fires only on a clock moved forward
    await eventually(lambda: world.scalar("notifier", "SELECT count(*) FROM followups WHERE fire_at < now() AND state = 'scheduled'"), until=lambda n: n == 50)

    world.start("notifier", CLOCK_OFFSET="P9D").wait_ready()  # the documented test clock
    await eventually(fired, until=lambda n: n >= 455)
    records = await eventually(lambda: read_topic(world.bootstrap, world.topic(topics.NOTIFICATIONS)), until=lambda r: len(r) >= 455)
    ids = [json.loads(r.value)["data"]["followup_id"] for r in records]
    assert len(ids) == 455 and len(set(ids)) == 455  # each exactly once
    assert await world.scalar("notifier", "SELECT count(*) FROM followups WHERE state = 'fired'") == 455
    assert await fired() == 455


async def test_sla_warning_breach_escalation_over_the_broker_and_cancelled_on_resolution(world, tmp_path):
    await world.prepare("notifier")
    notifier = world.start("notifier", CRM_POLICY_FILE=policy_file(tmp_path, '[notifier.sla]\nescalate_every = "PT1S"\nmanagers = { "h-1" = "m-1" }\n'))
    notifier.wait_ready()
    t = now()
    filed = events.ComplaintFiled(complaint_id="K1", customer_id="c1", tier="A", received_at=t - timedelta(seconds=9), due_at=t + timedelta(seconds=3), handler_id="h-1", summary="破损")
    await produce(world.bootstrap, world.topic(topics.COMPLAINTS), [event_bytes(filed)])
    types = lambda: world.rows("notifier", "SELECT event_type FROM outbox ORDER BY id")  # noqa: E731
    rows = await eventually(types, until=lambda r: [x.event_type for x in r].count("SlaBreached") >= 3, timeout=30)
    assert [x.event_type for x in rows][:2] == ["SlaWarning", "SlaBreached"]
    alerts = httpx.get(f"{notifier.url}/alerts", headers=auth("m-1", "manager", "team-x")).json()["alerts"]
    assert {a["stage"] for a in alerts} >= {"breach", "escalation"}  # the manager sees what was sent to them
    handler_view = httpx.get(f"{notifier.url}/alerts", headers=auth("h-1", "rep", "service")).json()["alerts"]
    assert "warning" in {a["stage"] for a in handler_view}
    assert httpx.get(f"{notifier.url}/alerts", headers=auth("h-2", "rep", "service")).json()["alerts"] == []

    resolved = events.ComplaintResolved(complaint_id="K1", customer_id="c1", resolved_at=now(), due_at=filed.due_at, within_sla=False, cause_category="logistics")
    await produce(world.bootstrap, world.topic(topics.COMPLAINTS), [event_bytes(resolved)])
    await eventually(lambda: world.scalar("notifier", "SELECT count(*) FROM sla_alerts WHERE state = 'scheduled'"), until=lambda n: n == 0)
    assert await world.scalar("notifier", "SELECT count(*) FROM sla_alerts WHERE state = 'cancelled'") == 1
