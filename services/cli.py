"""The `loudong` command: run one service, all of them, or the local SMS provider."""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from shared import config, logs

BOOTSTRAPS = {name: f"services.{name}.main" for name in config.SERVICES}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loudong", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in config.SERVICES:
        sub.add_parser(name, help=f"run the {name} service").add_argument(
            "--single-process",
            action="store_true",
            help="serve from this one process, no gunicorn master (`loudong run` with one worker)",
        )
        sub.add_parser(f"migrate-{name}", help=f"bring the {name} store to the newest schema")
    sub.add_parser("run", help="run all four services and a local SMS provider (embedded default)")
    keys = sub.add_parser("keys", help="gateway API keys, kept by intake").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="a new key for a gateway; the key is printed once")
    create.add_argument("gateway")
    create.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        help="submit, read, read:all, feedback (repeatable; default: submit, read, feedback)",
    )
    keys.add_parser("list", help="every key: id, gateway, scopes, revoked or not")
    revoke = keys.add_parser("revoke", help="stop a key working (within seconds on every replica)")
    revoke.add_argument("key_id")
    unit_tokens = sub.add_parser(
        "units", help="units' API tokens, kept by dispatch"
    ).add_subparsers(dest="action", required=True)
    token = unit_tokens.add_parser(
        "token", help="a new token for each unit named; printed once, one a line"
    )
    token.add_argument("unit_ids", nargs="+", metavar="unit_id")
    tokens = unit_tokens.add_parser(
        "tokens", help="a unit's tokens: list them, revoke one"
    ).add_subparsers(dest="tokens_action", required=True)
    tokens.add_parser("list", help="a unit's tokens: id, prefix, created, revoked").add_argument(
        "unit_id"
    )
    tokens.add_parser(
        "revoke", help="stop a token at once, in dispatch and escalation, on every replica"
    ).add_argument("token_id")
    unit_links = unit_tokens.add_parser(
        "links", help="units' SMS links (/u/<code>): list a unit's, revoke one"
    ).add_subparsers(dest="links_action", required=True)
    unit_links.add_parser(
        "list", help="a unit's links: code, issue, assignment, created, state"
    ).add_argument("unit_id")
    unit_links.add_parser("revoke", help="stop a link at once, on every replica").add_argument(
        "code"
    )
    add_dlq_parser(sub)
    sub.add_parser(
        "trace", help="one issue's path through the four services, from their stores"
    ).add_argument("issue_id")
    sub.add_parser(
        "example-month",
        help="submit a month of example issues through the gateway API and act on them",
        add_help=False,
    )
    sink = sub.add_parser("sms-sink", help="run the local SMS provider")
    sink.add_argument("--port", type=int, default=8089)
    sink.add_argument("--host", default=os.environ.get("LOUDONG_HOST") or "127.0.0.1")
    return parser


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["example-month"]:  # its own options, parsed by devtools/example_month.py
        from devtools import example_month

        return example_month.main(given[1:])
    args = parser().parse_args(argv)
    try:
        if args.command in config.SERVICES:
            return serve(args.command, args.single_process)
        if args.command.startswith("migrate-"):
            return migrate(args.command.removeprefix("migrate-"))
        if args.command == "sms-sink":
            return sms_sink(args.host, args.port)
        if args.command == "keys":
            return manage_keys(args)
        if args.command == "units":
            return manage_units(args)
        if args.command == "dlq":
            return manage_dead_letters(args)
        if args.command == "trace":
            return trace_issue(args.issue_id)
        return run_all()
    except config.ConfigError as exc:
        print(f"loudong: {exc}", file=sys.stderr)
        return 2


def serve(service: str, single_process: bool = False) -> int:
    settings = config.load(service)
    logs.configure(
        service,
        os.environ.get("LOUDONG_LOG_LEVEL", "INFO"),
        config.choice(os.environ, "LOUDONG_LOG_FORMAT", "json", logs.FORMATS),
    )
    # prometheus_client picks its storage when first imported, so the multiprocess folder
    # (gunicorn workers share /metrics) is set before the service's modules are imported.
    metrics_dir = Path(
        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR",
            str(settings.data_dir / "metrics" / f"{service}-{settings.port}"),
        )
    )
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    from shared import runtime

    serve_with = runtime.serve_alone if single_process else runtime.serve
    serve_with(settings, importlib.import_module(BOOTSTRAPS[service]).bootstrap)
    return 0


def migrate(service: str) -> int:
    settings = config.load(service)
    built = importlib.import_module(BOOTSTRAPS[service]).bootstrap(settings)
    built.store.migrate()
    print(f"{service}: schema is current")
    return 0


def manage_keys(args) -> int:
    from services.intake import commands, gateways

    settings = config.load("intake")
    built = importlib.import_module(BOOTSTRAPS["intake"]).bootstrap(settings)
    built.store.migrate()
    with built.store.unit_of_work() as uow:
        if args.action == "create":
            try:
                key_id, key = commands.create_key(
                    uow, built.context, args.gateway, args.scopes or gateways.DEFAULT_SCOPES
                )
            except gateways.UnknownScope as exc:
                print(f"loudong: {exc}", file=sys.stderr)
                return 2
            print(f"key id {key_id} for gateway {args.gateway}\n{key}")
            print("(store it now: only its hash is kept)")
        elif args.action == "list":
            for k in gateways.listing(uow.conn):
                state = f"revoked {k['revoked_at']:%Y-%m-%d %H:%M}" if k["revoked_at"] else "active"
                print(f"{k['id']:<14} {k['gateway']:<20} {k['scopes']:<32} {state}")
        elif not commands.revoke_key(uow, built.context, args.key_id):
            print(f"loudong: no active key {args.key_id}", file=sys.stderr)
            return 1
        else:
            print(f"revoked {args.key_id}")
    return 0


def manage_units(args) -> int:
    """`loudong units ...`: units' credentials, kept by dispatch."""
    if args.action == "tokens":
        return manage_unit_tokens(args)
    if args.action == "links":
        return manage_unit_links(args)
    return unit_tokens(args.unit_ids)


def manage_unit_tokens(args) -> int:
    """List a unit's tokens, or revoke one by its id (as the list shows it)."""
    from services.dispatch import units
    from shared.errors import DomainError

    built = importlib.import_module(BOOTSTRAPS["dispatch"]).bootstrap(config.load("dispatch"))
    built.store.migrate()
    try:
        with built.store.unit_of_work() as uow:
            if args.tokens_action == "list":
                for t in units.tokens_of(uow.conn, args.unit_id):
                    state = f"revoked {_minute(t['revoked_at'])}" if t["revoked_at"] else "active"
                    created = _minute(t["created_at"])
                    print(f"{t['id']:<14} {t['prefix'] or '?':<9} {created}  {state}")
            else:
                print(f"revoked {args.token_id} of {units.revoke_token(uow, args.token_id)}")
    except DomainError as exc:
        print(f"loudong: {exc}", file=sys.stderr)
        return 1
    return 0


def manage_unit_links(args) -> int:
    """List a unit's links (with the URL its SMS carried), or revoke one by its code."""
    from services.dispatch import links

    built = importlib.import_module(BOOTSTRAPS["dispatch"]).bootstrap(config.load("dispatch"))
    built.store.migrate()
    now, context = built.context.clock(), built.context
    with built.store.unit_of_work() as uow:
        if args.links_action == "list":
            for link in links.of_unit(uow.conn, args.unit_id):
                state = link.state(now)
                if state == "active" and link.expires_at:
                    state = f"expires {_minute(link.expires_at)}"
                url, created = f"{context.public_url}/u/{link.code}", _minute(link.created_at)
                print(f"{url}  {link.issue_id}  #{link.assignment}  {created}  {state}")
        elif links.revoke(uow.conn, args.code.strip().lower(), now):
            print(f"revoked {args.code}")
        else:
            print(f"loudong: no active link {args.code}", file=sys.stderr)
            return 1
    return 0


def _minute(at) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


def unit_tokens(unit_ids: list[str]) -> int:
    from services.dispatch import units

    built = importlib.import_module(BOOTSTRAPS["dispatch"]).bootstrap(config.load("dispatch"))
    unknown = [u for u in unit_ids if u not in built.context.directory.units]
    if unknown:
        print(f"loudong: no unit {', '.join(unknown)} in the directory", file=sys.stderr)
        return 2
    built.store.migrate()
    with built.store.unit_of_work() as uow:
        for unit_id in unit_ids:
            print(units.issue_token(uow, unit_id))
    return 0


def trace_issue(issue_id: str) -> int:
    """Each event about the issue, committed, published and applied, and each message sent."""
    from shared import trace

    steps = trace.trace(issue_id)
    if not steps:
        print(f"loudong: nothing about issue {issue_id} in any store", file=sys.stderr)
        return 1
    for step in steps:
        print(step.line())
    return 0


def add_dlq_parser(sub) -> None:
    dlq = sub.add_parser(
        "dlq", help="dead letters: what each consumer gave up on, on the configured bus"
    ).add_subparsers(dest="action", required=True)
    listing = dlq.add_parser("list", help="id, type, issue, when, attempts and why, per service")
    listing.add_argument("service", nargs="?", choices=config.SERVICES)
    show = dlq.add_parser("show", help="one dead letter in full (phones and names masked)")
    show.add_argument("service", choices=config.SERVICES)
    show.add_argument("id", help="its id as the list shows it, or a longer prefix")
    for action, what in (
        ("replay", "put it back to its consumer (its inbox applies an event at most once)"),
        ("discard", "drop it for good, saying what was dropped"),
    ):
        parser = dlq.add_parser(action, help=what)
        parser.add_argument("service", choices=config.SERVICES)
        parser.add_argument("id", nargs="?", help="its id as the list shows it")
        parser.add_argument("--all", action="store_true", help="every dead letter of the service")


def manage_dead_letters(args) -> int:
    """`loudong dlq ...`: the dead-letter path of the bus LOUDONG_BROKER_URL chooses."""
    from kombu.exceptions import OperationalError

    try:
        return _dead_letters(args)
    except (OSError, OperationalError) as exc:
        print(f"loudong: cannot reach the bus: {exc}", file=sys.stderr)
        return 2


def _dead_letters(args) -> int:
    from shared import dlq

    if args.action == "list":
        return _dlq_list(dlq, [args.service] if args.service else list(config.SERVICES))
    every = getattr(args, "all", False)  # replay and discard have --all; show has not
    if args.action in ("replay", "discard") and bool(args.id) == every:
        print(f"loudong: dlq {args.action} takes one id or --all", file=sys.stderr)
        return 2
    letters = dlq.dead_letters(args.service)
    try:
        found = letters.list()
        if not every:
            found = dlq.chosen(found, args.id)
        elif not found:
            print(f"{args.service}: no dead letters")
            return 1
        if args.action == "show":
            _dlq_show(dlq.masked_letter(found[0]), len(found))
            return 0
        done = letters.replay(found) if args.action == "replay" else letters.discard(found)
    except dlq.NoSuchDeadLetter as exc:
        print(f"loudong: {args.service} has no dead letter {exc}", file=sys.stderr)
        return 1
    except dlq.AmbiguousId as exc:
        print(f"loudong: {exc}; give more of it", file=sys.stderr)
        return 1
    finally:
        letters.close()
    verb = "replayed to" if args.action == "replay" else "discarded from"
    for d in map(dlq.masked_letter, done):
        print(f"{verb} {args.service}: {d.id}  {d.type}  issue {d.issue_id}  ({_short(d.reason)})")
        if args.action == "replay" and d.malformed:
            print("  (malformed: it comes back here unless its reader has changed)")
    if not done:
        print(f"loudong: someone else took them first; nothing {args.action}ed", file=sys.stderr)
        return 1
    return 0


def _dlq_list(dlq, services: list[str]) -> int:
    for service in services:
        letters = dlq.dead_letters(service)
        try:
            found = [dlq.masked_letter(d) for d in letters.list()]
        finally:
            letters.close()
        print(f"{service}: {len(found)} dead letter{'' if len(found) == 1 else 's'}")
        if found:
            print(f"  {'ID':<8}  {'TYPE':<24} {'ISSUE':<36} {'WHEN (UTC)':<19}  TRIES  WHY")
        for d in found:
            when = f"{d.at:%Y-%m-%d %H:%M:%S}" if d.at else "?" * 19
            attempts, why = "?" if d.attempts is None else d.attempts, _short(d.reason)
            print(f"  {d.id[:8]}  {d.type:<24} {d.issue_id:<36} {when}  {attempts:>5}  {why}")
    return 0


def _dlq_show(d, copies: int) -> None:
    when = f"{d.at:%Y-%m-%d %H:%M:%S} UTC" if d.at else "unknown"
    print(f"id        {d.id}" + (f"  ({copies} copies)" if copies > 1 else ""))
    print(f"type      {d.type}\nissue     {d.issue_id}\nwhen      {when}")
    print(f"attempts  {'unknown' if d.attempts is None else d.attempts}\nwhy       {d.reason}")
    print(d.body)


def _short(reason: str, width: int = 72) -> str:
    line = " ".join(reason.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def sms_sink(host: str, port: int) -> int:
    from devtools.sms_sink import SmsSink

    journal = config.data_dir() / "sms.jsonl"
    journal.parent.mkdir(parents=True, exist_ok=True)
    sink = SmsSink(host=host, port=port, journal=str(journal))
    print(f"local SMS provider on {sink.url} (journal {journal})", flush=True)
    sink.serve_forever()
    return 0


# glibc's allocator, for four services on one machine (bench/embedded.py measures it): one
# arena per process, not one per thread, since the GIL lets one thread at a time allocate
# anyway; and fixed thresholds, so a large block freed goes back to the system rather than
# raising them. Together 15-17 MB less resident after a minute of load, at the same speed.
EMBEDDED_MALLOC = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_THRESHOLD_": "131072",
    "MALLOC_TRIM_THRESHOLD_": "131072",
}


def run_all() -> int:
    """The embedded default: four processes, SQLite under ./data, no broker."""
    env = dict(os.environ)
    env.setdefault("LOUDONG_WEB_WORKERS", "1")
    env.setdefault("LOUDONG_LOG_FORMAT", "text")  # for a person at a terminal
    env.setdefault("LOUDONG_DEMO_API_KEY", "ld_demo_" + secrets.token_urlsafe(16))
    env.setdefault("LOUDONG_LINK_SECRET", secrets.token_urlsafe(32))  # units' links in SMS
    for name, value in EMBEDDED_MALLOC.items():
        env.setdefault(name, value)
    children = []
    if not env.get("LOUDONG_SMS_URL"):
        env["LOUDONG_SMS_URL"] = "http://127.0.0.1:8089"
        notify_port = config.load("notify", env).port
        inbound = f"http://127.0.0.1:{notify_port}/v1/inbound/generic"
        env.setdefault("LOUDONG_NOTIFY_INBOUND_URL", inbound)  # the sink forwards replies there
        env.setdefault("LOUDONG_SMS_RECEIPT_SECRET", secrets.token_urlsafe(32))  # ...signed
        children.append(
            subprocess.Popen([sys.executable, "-m", "services.cli", "sms-sink"], env=env)
        )
    for name in config.SERVICES:
        # one worker needs no gunicorn master beside it: half the processes, half the memory
        alone = ["--single-process"] if config.load(name, env).web_workers == 1 else []
        command = [sys.executable, "-m", "services.cli", name, *alone]
        children.append(subprocess.Popen(command, env=env))
    bus = env.get("LOUDONG_BROKER_URL") or "embedded (outboxes under LOUDONG_DATA_DIR)"
    print(f"Loudong is starting; bus: {bus}; data: {config.data_dir(env)}")
    for name in config.SERVICES:
        print(f"  {name:<11} http://127.0.0.1:{config.load(name, env).port}")
    print(f"  sms         {env['LOUDONG_SMS_URL']}/messages")
    print(f"Demo gateway API key (LOUDONG_DEMO_API_KEY): {env['LOUDONG_DEMO_API_KEY']}")
    print("Ctrl-C stops everything.", flush=True)
    signal.signal(signal.SIGTERM, _interrupt_once)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("loudong: a process exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            child.wait(timeout=15)


def _interrupt_once(*_args):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
