"""`loudong dlq` on the embedded bus: a submission intake accepts but dispatch cannot apply
(intake's directory knows a category dispatch's does not yet) ends in dispatch's dead letters
while the next issue goes on; the list shows it; once dispatch knows the category, a replay
applies it once, a second replay changes nothing, and a discard drops what it says."""

import pytest
import yaml
from sqlalchemy import insert

from services import cli
from services.dispatch import store as dispatch_store
from shared import dlq
from shared.config import REPO_ROOT
from shared.envelope import utcnow
from shared.outbox import dead_letter, inbox, outbox, retry
from tests.helpers import AUTH, SUBMISSION, build, count_rows, emitted, event

PHONE = "13912345678"
LIFT = {
    **SUBMISSION,
    "category": "lift_repair",
    "description": f"3栋电梯困人，回电{PHONE}",
}


def newer_directory(path):
    """deploy/directory.yaml with one more category (as `other`), handled by whoever handles
    `other`: the directory intake got before dispatch did."""
    raw = yaml.safe_load((REPO_ROOT / "deploy" / "directory.yaml").read_text())
    raw["categories"]["lift_repair"] = {**raw["categories"]["other"], "name": "电梯维修"}
    for unit in raw["units"]:
        if "other" in (unit.get("handles") or []):
            unit["handles"].append("lift_repair")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    """What `loudong dlq` reads: the same data folder as the services built here."""
    for name in (
        "LOUDONG_BROKER_URL",
        "LOUDONG_DISPATCH_DATABASE_URL",
        "LOUDONG_NOTIFY_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOUDONG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOUDONG_RETRY_DELAYS", "0,0")
    return newer_directory(tmp_path / "directory.yaml")


@pytest.fixture
def running(tmp_path, env):
    built = []

    def start(name, **extra):
        built.append(build(name, tmp_path, **extra))
        return built[-1]

    yield start
    for service in built:
        service.store.dispose()


def loudong(capsys, *argv) -> tuple[int, str]:
    code = cli.main(["dlq", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _dispatched(store, issue_id):
    return [e for e in emitted(store, "issue.dispatched") if e.issue_id == issue_id]


def test_a_poison_submission_is_dead_lettered_listed_replayed_once_and_the_rest_goes_on(
    running, env, capsys
):
    intake = running("intake", LOUDONG_DIRECTORY=env)
    dispatch = running("dispatch")
    client = intake.app.test_client()
    poison = client.post("/v1/issues", headers=AUTH, json=LIFT)
    assert poison.status_code == 201
    ordinary = client.post("/v1/issues", headers=AUTH, json=SUBMISSION).json["id"]

    dispatch.bus.poll_once()

    assert len(_dispatched(dispatch.store, ordinary)) == 1  # not held up behind the poison
    assert count_rows(dispatch.store, dead_letter) == 1
    code, listing = loudong(capsys, "list", "dispatch")
    assert code == 0
    [line] = [line for line in listing.splitlines() if poison.json["id"] in line]
    assert "issue.submitted" in line and "handler_failed: KeyError('lift_repair')" in line
    assert line.split()[5] == "3"  # attempts: the first and LOUDONG_RETRY_DELAYS=0,0
    assert "dispatch: 1 dead letter" in listing
    [submitted] = [
        e for e in emitted(intake.store, "issue.submitted") if e.issue_id == poison.json["id"]
    ]
    short = line.split()[0]
    assert submitted.id.startswith(short)

    code, shown = loudong(capsys, "show", "dispatch", short)
    assert code == 0 and submitted.id in shown and "lift_repair" in shown
    assert PHONE not in shown and "1391****78" in shown  # mask_phones keeps its ends

    dispatch.store.dispose()  # dispatch gets the newer directory: the cause is gone
    dispatch = running("dispatch", LOUDONG_DIRECTORY=env)
    code, replayed = loudong(capsys, "replay", "dispatch", short)
    assert code == 0 and f"replayed to dispatch: {submitted.id}" in replayed
    assert count_rows(dispatch.store, dead_letter) == 0
    dispatch.bus.poll_once()

    with dispatch.store.read() as conn:
        assert dispatch_store.get_case(conn, poison.json["id"]) is not None
    after_first = len(emitted(dispatch.store))
    assert len(_dispatched(dispatch.store, poison.json["id"])) == 1
    applied = count_rows(dispatch.store, inbox)

    code, again = loudong(capsys, "replay", "dispatch", short)
    assert code == 1 and "has no dead letter" in again
    code, again = loudong(capsys, "replay", "dispatch", "--all")
    assert code == 1 and "no dead letters" in again
    dispatch.bus.poll_once()
    assert len(emitted(dispatch.store)) == after_first
    assert count_rows(dispatch.store, inbox) == applied
    assert count_rows(dispatch.store, retry) == 0


def test_a_replay_is_applied_once_by_the_inbox_even_if_its_event_was_applied_meanwhile(
    running, env, capsys
):
    """The inbox, not the dead-letter table, is what makes a replay safe: an event applied
    since (here: a second copy taken in after the cause was fixed) is not applied again."""
    intake = running("intake", LOUDONG_DIRECTORY=env)
    dispatch = running("dispatch")
    issue_id = intake.app.test_client().post("/v1/issues", headers=AUTH, json=LIFT).json["id"]
    dispatch.bus.poll_once()
    [submitted] = emitted(intake.store, "issue.submitted")
    dispatch.store.dispose()
    dispatch = running("dispatch", LOUDONG_DIRECTORY=env)
    dispatch.subscriber.apply(submitted.to_json())  # the same event, applied another way
    before = len(emitted(dispatch.store))

    code, out = loudong(capsys, "replay", "dispatch", "--all")
    dispatch.bus.poll_once()

    assert code == 0 and submitted.id in out
    assert len(emitted(dispatch.store)) == before
    assert len(_dispatched(dispatch.store, issue_id)) == 1
    assert count_rows(dispatch.store, retry) == 0 and count_rows(dispatch.store, dead_letter) == 0


def test_a_malformed_message_is_listed_and_discarded_saying_what_was_dropped(running, env, capsys):
    intake = running("intake")
    dispatch = running("dispatch")
    with intake.store.writer.begin() as conn:
        conn.execute(
            insert(outbox).values(
                event_id="not-an-envelope",
                type="issue.submitted",
                issue_id="x",
                body="{this is not an envelope " + PHONE,
                created_at=utcnow(),
            )
        )
    dispatch.bus.poll_once()

    code, listing = loudong(capsys, "list")
    assert (
        code == 0 and "dispatch: 1 dead letter" in listing and "notify: 0 dead letters" in listing
    )
    [line] = [line for line in listing.splitlines() if line.strip().startswith("m-")]
    assert "malformed" in line and line.split()[5] == "1"
    code, shown = loudong(capsys, "show", "dispatch", line.split()[0])
    assert code == 0 and PHONE not in shown and "this is not an envelope" in shown

    code, dropped = loudong(capsys, "discard", "dispatch", "--all")

    assert code == 0 and "discarded from dispatch: m-" in dropped and "malformed" in dropped
    assert count_rows(dispatch.store, dead_letter) == 0
    assert "dispatch: 0 dead letters" in loudong(capsys, "list", "dispatch")[1]


def test_a_residents_phone_never_shows_even_in_a_payload_its_reader_refused(running, env, capsys):
    intake = running("intake")
    notify = running("notify")
    refused = event(
        "resident.acknowledged",
        "LD-1",
        {"issue_id": "LD-1", "phone": int(PHONE), "at": utcnow().isoformat()},
        producer="intake",
    )
    with intake.store.writer.begin() as conn:
        conn.execute(
            insert(outbox).values(
                event_id=refused.id,
                type=refused.type,
                issue_id="LD-1",
                body=refused.to_json(),
                created_at=utcnow(),
            )
        )
    notify.bus.poll_once()

    code, listing = loudong(capsys, "list", "notify")
    code_show, shown = loudong(capsys, "show", "notify", refused.id)

    assert code == code_show == 0
    assert refused.id[:8] in listing and "malformed" in listing
    assert refused.id in shown and '"phone": "13912****78"' in shown
    assert PHONE not in listing + shown


def test_an_id_prefix_must_name_one_event():
    a = dlq.letter(event("issue.submitted", "A", {}).to_json(), "handler_failed: x", None, 3)
    b = dlq.DeadLetter("abc-2", "t", "B", None, "why", 1, "{}")
    c = dlq.DeadLetter("abc-1", "t", "C", None, "why", 1, "{}")

    assert dlq.chosen([a, b, c], a.id[:8]) == [a]
    assert dlq.chosen([b, c, b], "abc-2") == [b, b]  # both copies of one event
    with pytest.raises(dlq.AmbiguousId):
        dlq.chosen([a, b, c], "abc")
    with pytest.raises(dlq.NoSuchDeadLetter):
        dlq.chosen([a, b, c], "zzz")


def test_masking_reaches_every_depth():
    shown = dlq.masked(
        {"reporter": {"name": "张三", "phone": "+8613800000000"}, "notes": ["叫13800000000"]}
    )
    assert shown == {
        "reporter": {"name": "张*", "phone": "+8613****00"},
        "notes": ["叫1380****00"],
    }
