"""Ceiling "durable": the bare endpoint (bench/bare_app.py) made durable, the least a 201 that
means "on disk" costs here. It validates the same body with the same schema, then commits the
issue row and its `issue.submitted` outbox row in one PostgreSQL transaction (intake's own
tables, migrated by intake's migrations; SQLAlchemy Core through shared.db's engine), and
answers 201. No API key, rate limit, idempotency key, reporter row, event schema or metrics:
what intake does beyond this is the gap between the two figures.
Served by gunicorn with the services' worker model (see bench/run.py), with
BENCH_DURABLE_DATABASE_URL naming the database.
"""

from __future__ import annotations

import json
import os
import uuid

from flask import Flask, request
from marshmallow import ValidationError
from sqlalchemy import insert

from bench.bare_app import SubmissionSchema
from services.intake.store import issues
from shared.db import create_engines
from shared.envelope import utcnow
from shared.outbox import outbox

app = Flask("loudong.bench.durable")
app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
submission_schema = SubmissionSchema()
writer, _reader = create_engines(os.environ["BENCH_DURABLE_DATABASE_URL"])  # connects on use


@app.post("/v1/issues")
def submit():
    try:
        submission = submission_schema.load(request.get_json())
    except ValidationError as exc:
        return {"errors": exc.normalized_messages()}, 422
    issue_id, event_id, now = str(uuid.uuid4()), str(uuid.uuid4()), utcnow()
    location = submission["location"]
    event = {
        "id": event_id,
        "type": "issue.submitted",
        "issue_id": issue_id,
        "producer": "intake",
        "correlation_id": event_id,
        "occurred_at": now.isoformat(),
        "payload": {
            "issue_id": issue_id,
            "channel": submission["channel"],
            "description": submission["description"],
            "category": submission["category"],
            "location": location,
            "submitted_at": now.isoformat(),
        },
    }
    with writer.begin() as conn:
        conn.execute(
            insert(issues).values(
                id=issue_id,
                channel=submission["channel"],
                description=submission["description"],
                category=submission["category"],
                **{k: location.get(k) for k in ("street", "community", "compound", "building")},
                status="received",
                escalation_level=0,
                submitted_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            insert(outbox).values(
                event_id=event_id,
                type="issue.submitted",
                issue_id=issue_id,
                body=json.dumps(event, ensure_ascii=False),
                created_at=now,
            )
        )
    return {"id": issue_id, "status": "received"}, 201


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
