"""Who sees what: an organisation's owners all its leads, its agents the leads assigned to them
or to nobody yet, platform admins everything."""

from pix_runtime.identity import Identity
from sqlalchemy import Column, ColumnElement, and_, or_, true

from pix_leads import models as m


def org_scope(column: Column[object], viewer: Identity) -> ColumnElement[bool]:
    """The WHERE clause every query of client data carries."""
    return true() if viewer.is_admin else column == viewer.org_id


def lead_scope(viewer: Identity) -> ColumnElement[bool]:
    """The WHERE clause every query of leads carries."""
    scope = org_scope(m.leads.c.org_id, viewer)
    if viewer.role != "agent":
        return scope
    assignee = m.leads.c.assignee_id
    return and_(scope, or_(assignee.is_(None), assignee == viewer.user_id))
