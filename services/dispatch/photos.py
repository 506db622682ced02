"""Photos units attach to a progress note or a resolution on their pages: JPEG, PNG or WebP,
at most MAX_BYTES each and MAX_PER_POST at once, each decoded by Pillow (never judged by its
name or declared type), kept in dispatch's store and shown only to units sent the issue."""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from services.dispatch.store import photos
from shared.errors import Invalid

MAX_BYTES = 5 * 1024 * 1024
MAX_PER_POST = 4
MAX_PIXELS = 50_000_000  # a small file that decodes to a huge picture is refused too
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class Photo:
    """A checked picture, not yet stored."""

    content_type: str
    width: int
    height: int
    data: bytes


def checked(uploads: list[tuple[str, bytes]]) -> list[Photo]:
    """The uploads (file name, bytes) as photos; Invalid naming the first one refused."""
    uploads = [(name, data) for name, data in uploads if data]  # an empty file input
    if len(uploads) > MAX_PER_POST:
        raise Invalid(f"at most {MAX_PER_POST} photos", {"photos": ["too_many"]})
    return [_checked(name, data) for name, data in uploads]


def _checked(name: str, data: bytes) -> Photo:
    if len(data) > MAX_BYTES:
        raise Invalid(f"{name}: over {MAX_BYTES // 1024 // 1024} MB", {"photos": ["too_large"]})
    # Imported at the first upload: Pillow costs each dispatch process 2 MB resident, and
    # most never see a photo (the embedded default's four services are measured at 250 MB).
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, size = image.format, image.size
                if kind not in FORMATS or size[0] * size[1] > MAX_PIXELS:
                    raise ValueError(kind)
                image.load()  # decode it whole: a truncated or forged file fails here
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, Warning):
        refused = {"photos": ["not_an_image"]}
        raise Invalid(f"{name}: not a JPEG, PNG or WebP photo", refused) from None
    return Photo(FORMATS[kind], size[0], size[1], data)


def add(
    conn: Connection,
    photo: Photo,
    issue_id: str,
    unit_id: str,
    now: datetime,
    note_id: int | None = None,
    assignment: int | None = None,
) -> str:
    photo_id = uuid.uuid4().hex
    conn.execute(
        insert(photos).values(
            id=photo_id,
            issue_id=issue_id,
            unit_id=unit_id,
            note_id=note_id,
            assignment=assignment,
            content_type=photo.content_type,
            width=photo.width,
            height=photo.height,
            size=len(photo.data),
            data=photo.data,
            created_at=now,
        )
    )
    return photo_id


def of_issue(conn: Connection, issue_id: str) -> list[dict]:
    """What the issue page lists (no image data), oldest first."""
    query = (
        select(
            photos.c.id,
            photos.c.note_id,
            photos.c.assignment,
            photos.c.width,
            photos.c.height,
            photos.c.created_at,
        )
        .where(photos.c.issue_id == issue_id)
        .order_by(photos.c.created_at, photos.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def get(conn: Connection, photo_id: str) -> dict | None:
    row = conn.execute(select(photos).where(photos.c.id == photo_id)).mappings().first()
    return dict(row) if row else None
