"""The order workflow: which status may follow which, and who may make the step."""

from __future__ import annotations

from pix_runtime.errors import DomainError
from pix_runtime.identity import Identity

STATUSES = ("received", "confirmed", "scheduled", "shot", "delivered", "cancelled")

# received → confirmed → scheduled → shot → delivered; cancelled until the shoot happened.
NEXT: dict[str, tuple[str, ...]] = {
    "received": ("confirmed", "cancelled"),
    "confirmed": ("scheduled", "cancelled"),
    "scheduled": ("shot", "cancelled"),
    "shot": ("delivered",),
    "delivered": (),
    "cancelled": (),
}

# A client may only withdraw an order before a date is fixed with the photographer.
CLIENT_MAY_CANCEL = ("received", "confirmed")


def allowed_transitions(status: str, caller: Identity) -> list[str]:
    if caller.is_admin:
        return list(NEXT.get(status, ()))
    return ["cancelled"] if status in CLIENT_MAY_CANCEL else []


class Forbidden(DomainError):
    status = 403

    def __init__(self, message: str = "only administrators may do this") -> None:
        super().__init__("forbidden", message)
