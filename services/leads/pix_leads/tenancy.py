"""Who sees what: an organisation's members its own leads, platform admins everything."""

from pix_runtime.identity import Identity
from sqlalchemy import Column, ColumnElement, true


def org_scope(column: Column[object], viewer: Identity) -> ColumnElement[bool]:
    """The WHERE clause every query of client data carries."""
    return true() if viewer.is_admin else column == viewer.org_id
