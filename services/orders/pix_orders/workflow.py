"""The order workflow: which status may follow which, and who may make the step."""

from __future__ import annotations

from pix_contracts.events import ORDER_STEPS
from pix_runtime.identity import Identity

# A client may only withdraw an order before a date is fixed with the photographer.
CLIENT_MAY_CANCEL = ("received", "confirmed")


def allowed_transitions(status: str, caller: Identity) -> list[str]:
    if caller.is_admin:
        return list(ORDER_STEPS.get(status, ()))
    if caller.role == "photographer":
        # They shoot and deliver (through the gallery); the order's course is not theirs.
        return []
    return ["cancelled"] if status in CLIENT_MAY_CANCEL else []
