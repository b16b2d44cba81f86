"""Caption workers have no public API yet: only /healthz, /readyz and /metrics (lifecycle)."""

from fastapi import APIRouter


def create_router() -> APIRouter:
    return APIRouter()
