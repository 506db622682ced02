"""The broker and the database server the bench runs against: fresh databases, purged
service queues, and short-lived pika connections for declaring and inspecting queues."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pika
import psycopg
from pika.exceptions import ChannelClosedByBroker

from shared.publisher import pika_url

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


def database_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def recreate_database(name: str) -> str:
    """DROP (if it exists) and CREATE; the URL of the new, empty database."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def broker() -> Iterator[pika.BlockingConnection]:
    conn = pika.BlockingConnection(pika.URLParameters(pika_url(BROKER_URL)))
    try:
        yield conn
    finally:
        if conn.is_open:
            conn.close()


def queue_depth(conn: pika.BlockingConnection, queue: str) -> int | None:
    """Messages ready in `queue`, or None if it does not exist (a failed passive declare
    closes its channel, hence one channel per question)."""
    channel = conn.channel()
    try:
        return channel.queue_declare(queue, passive=True).method.message_count
    except ChannelClosedByBroker:
        return None
    finally:
        if channel.is_open:
            channel.close()


def purge_if_exists(conn: pika.BlockingConnection, queue: str) -> int:
    """Messages purged from `queue`; 0 if it does not exist."""
    if queue_depth(conn, queue) is None:
        return 0
    channel = conn.channel()
    try:
        return channel.queue_purge(queue).method.message_count
    finally:
        channel.close()


def declare_queue(queue: str, exchange: str | None = None, routing_key: str = "#") -> None:
    """A durable queue, bound to a (non-durable) topic exchange when one is named; purged."""
    with broker() as conn:
        channel = conn.channel()
        channel.queue_declare(queue, durable=True)
        channel.queue_purge(queue)
        if exchange:
            channel.exchange_declare(exchange, exchange_type="topic", durable=False)
            channel.queue_bind(queue, exchange, routing_key=routing_key)
        channel.close()


def delete_queue(queue: str, exchange: str | None = None) -> None:
    with broker() as conn:
        channel = conn.channel()
        channel.queue_delete(queue)
        if exchange:
            channel.exchange_delete(exchange)
        channel.close()
