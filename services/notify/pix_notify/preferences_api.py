"""HTTP routes of a user's notification preferences: their own only (another user's id
answers 404, administrators included); a security kind cannot be switched off (422)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pix_runtime.http import CurrentIdentity
from pydantic import BaseModel

from pix_notify.preferences import Preference, PreferenceKind, Preferences

router = APIRouter()


def preferences_of(request: Request) -> Preferences:
    preferences: Preferences = request.app.state.preferences
    return preferences


Store = Annotated[Preferences, Depends(preferences_of)]


class PreferenceView(BaseModel):
    kind: PreferenceKind
    enabled: bool
    switchable: bool

    @classmethod
    def of(cls, preference: Preference) -> "PreferenceView":
        return cls(
            kind=preference.kind, enabled=preference.enabled, switchable=preference.switchable
        )


class PreferenceChange(BaseModel):
    enabled: bool


@router.get("/users/{user_id}/notification-preferences")
async def notification_preferences(
    store: Store, user_id: uuid.UUID, caller: CurrentIdentity
) -> list[PreferenceView]:
    return [PreferenceView.of(p) for p in await store.of(user_id, caller)]


@router.put("/users/{user_id}/notification-preferences/{kind}")
async def set_notification_preference(
    store: Store,
    user_id: uuid.UUID,
    kind: PreferenceKind,
    body: PreferenceChange,
    caller: CurrentIdentity,
) -> list[PreferenceView]:
    return [PreferenceView.of(p) for p in await store.set(user_id, kind, body.enabled, caller)]
