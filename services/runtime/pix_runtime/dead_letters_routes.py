"""The admin view of a service's dead letters, mounted by `ServiceRuntime.create_app` where the
service has a `dead_letters` table: `GET /admin/dead-letters`, `POST /admin/dead-letters/{id}/
replay`, `POST /admin/dead-letters/replay-all`, `POST /admin/dead-letters/{id}/discard`. The
gateway reaches them as `/api/<service>/admin/dead-letters`; `pix-stack dlq` calls them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from pix_runtime.dead_letters import DeadLetterBoard, DeadLetterView, ReplayOutcome, ReplayReport
from pix_runtime.errors import Forbidden
from pix_runtime.http import CurrentIdentity
from pix_runtime.identity import Identity


def admin_only(identity: CurrentIdentity) -> Identity:
    if not identity.is_admin:
        raise Forbidden("only platform admins see dead letters")
    return identity


def dead_letter_board(request: Request) -> DeadLetterBoard:
    board: DeadLetterBoard = request.app.state.dead_letter_board
    return board


Admin = Annotated[Identity, Depends(admin_only)]
Board = Annotated[DeadLetterBoard, Depends(dead_letter_board)]
Topic = Annotated[str | None, Query(max_length=200)]
Group = Annotated[str | None, Query(max_length=200)]
dead_letters_router = APIRouter(prefix="/admin/dead-letters", tags=["dead letters"])


@dead_letters_router.get("")
async def list_dead_letters(
    admin: Admin,
    board: Board,
    status: Literal["open", "replayed", "discarded"] | None = "open",
    topic: Topic = None,
    group: Group = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeadLetterView]:
    return await board.store.find(status=status, topic=topic, group=group, limit=limit)


@dead_letters_router.post("/replay-all")
async def replay_all_dead_letters(
    admin: Admin, board: Board, topic: Topic = None, group: Group = None
) -> ReplayReport:
    return await board.replay_all(topic=topic, group=group)


@dead_letters_router.post("/{letter_id}/replay")
async def replay_dead_letter(letter_id: int, admin: Admin, board: Board) -> ReplayOutcome:
    return await board.replay(letter_id)


@dead_letters_router.post("/{letter_id}/discard")
async def discard_dead_letter(letter_id: int, admin: Admin, board: Board) -> dict[str, bool]:
    await board.store.discard(letter_id)
    return {"discarded": True}
