"""The statements of the caption store, built once: each upload runs three of them."""

from __future__ import annotations

from sqlalchemy import bindparam, exists, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert

from pix_captioning.models import CONSUMER, captions, failures, inbox, outbox

# Whether the event was handled before, and the latest caption of this asset version (or NULLs).
_latest_of_version = (
    select(captions)
    .where(
        captions.c.asset_id == bindparam("asset_id"),
        captions.c.asset_version == bindparam("asset_version"),
    )
    .order_by(captions.c.caption_version.desc())
    .limit(1)
    .subquery("latest")
)
_one = select(literal(1).label("one")).subquery("one")
SEEN_AND_LATEST = select(
    exists()
    .where(inbox.c.consumer == CONSUMER, inbox.c.event_id == bindparam("event_id"))
    .label("pix_seen"),
    _latest_of_version,
).select_from(_one.outerjoin(_latest_of_version, true()))

# Claim the event in the inbox and read the asset's highest caption version.
_highest_version = (
    select(func.coalesce(func.max(captions.c.caption_version), 0))
    .where(captions.c.asset_id == bindparam("asset_id"))
    .scalar_subquery()
)
_claimed = (
    insert(inbox)
    .values(consumer=CONSUMER, event_id=bindparam("event_id", type_=inbox.c.event_id.type))
    .on_conflict_do_nothing()
    .returning(inbox.c.event_id)
    .cte("claimed")
)
CLAIM_AND_VERSION = select(
    exists(select(_claimed.c.event_id)).label("first"), _highest_version.label("latest")
)
VERSION = select(true().label("first"), _highest_version.label("latest"))

# A ready version: its row, resolving the asset's open failures, and its outbox row.
_stored = (
    captions.insert()
    .values(
        {
            c.name: bindparam(f"c_{c.name}", type_=c.type)
            for c in captions.c
            if c.name != "created_at"
        }
    )
    .returning(*captions.c)
    .cte("stored")
)
_resolved = (
    update(failures)
    .where(failures.c.asset_id == bindparam("c_asset_id"), failures.c.resolved_at.is_(None))
    .values(resolved_at=func.now(), updated_at=func.now())
    .cte("resolved")
)
_announced = (
    outbox.insert()
    .values(
        {
            name: bindparam(f"o_{name}", type_=outbox.c[name].type)
            for name in ("event_id", "topic", "key", "payload", "headers")
        }
    )
    .cte("announced")
)
STORE_READY = select(_stored).add_cte(_resolved, _announced)
