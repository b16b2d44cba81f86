"""Schemathesis over the assistant's own OpenAPI document: no generated request meets a server
error, and every error is in our shape. The services its tools call are unreachable here, so
a 503 "unavailable" (or "not_configured" for staging) is the honest answer and allowed."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from assistant_helpers import model_settings
from chat_fake import ChatFake
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pix_assistant.app import create_app
from pix_runtime.identity import IDENTITY_HEADER, Identity, sign_identity
from pix_runtime.settings import PlatformSettings
from pix_stack.embedded import free_port

CASES_PER_OPERATION = 4
NOBODY = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def assistant_url(assistant_schemas: None, chat: ChatFake) -> Iterator[str]:
    platform = PlatformSettings(
        leads_url=NOBODY,
        listings_url=NOBODY,
        orders_url=NOBODY,
        media_url=NOBODY,
        captioning_url=NOBODY,
    )
    app, _ = create_app(model_settings(chat, platform=platform))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_no_generated_request_meets_a_server_error(assistant_url: str) -> None:
    key = os.environ["PIX_INTERNAL_KEY"].encode()
    common: dict[str, Any] = {"email": "fuzz@makler-example.de", "name": "Fuzz"}
    who = [
        Identity(user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="client", **common),
        Identity(user_id=uuid.uuid4(), org_id=uuid.uuid4(), role="admin", **common),
    ]
    session = requests.Session()
    problems: list[str] = []
    cases = 0
    schema = schemathesis.openapi.from_url(f"{assistant_url}/openapi.json")
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(), caller=st.sampled_from(who))
        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any, caller: Identity) -> None:
            nonlocal cases
            cases += 1
            headers = {IDENTITY_HEADER: sign_identity(caller, key)}
            response = case.call(base_url=assistant_url, session=session, headers=headers)
            where = f"{case.method} {case.formatted_path} as {caller.role}"
            if response.status_code < 400:
                return
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                problems.append(f"{where}: {response.status_code} not our shape")
                return
            allowed_5xx = response.status_code == 503 and error["code"] in (
                "unavailable",
                "not_configured",
            )
            if response.status_code >= 500 and not allowed_5xx:
                problems.append(f"{where}: {response.status_code} {response.text[:200]}")

        call()
    assert cases >= 80
    assert problems == [], "\n".join(problems)
