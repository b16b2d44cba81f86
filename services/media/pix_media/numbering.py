"""Pseudonyms: each finished photo, floor plan or video takes its kind's next number in its
gallery (Kitchen_01 … Kitchen_99, Kitchen_100: at least two digits), in the statement that
finishes it. The upsert locks the gallery's counter row, so concurrent results of one kind get
distinct numbers."""

from typing import Any

from sqlalchemy import String, bindparam, case, cast, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from pix_media.models import room_sequences

_NEXT_NUMBER = (
    pg_insert(room_sequences)
    .values(gallery_id=bindparam("gallery"), room=bindparam("room"), last=1)
    .on_conflict_do_update(
        index_elements=[room_sequences.c.gallery_id, room_sequences.c.room],
        set_={"last": room_sequences.c.last + 1},
    )
    .returning(room_sequences.c.last)
    .cte("next_number")
)
_NUMBER = select(_NEXT_NUMBER.c.last).scalar_subquery()

# The finishing UPDATE's values for the number and the name (bound: `gallery`, `room`, `stem`).
NUMBERED: dict[str, Any] = {
    "sequence": _NUMBER,
    "pseudonym": bindparam("stem", type_=String)
    + case((_NUMBER < 10, "_0"), else_="_")
    + cast(_NUMBER, String),
}
