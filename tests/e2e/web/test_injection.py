"""Script and markdown injection stored as titles, messages and answers renders inert in the web
UI, in real Chromium against a real api: web/e2e/injection.mjs looks."""

from __future__ import annotations

import json

import httpx
import psycopg
import pytest

from tests.e2e.web.conftest import ARTIFACTS, WebTools, run_script
from tests.factories import DEFAULT_PASSWORD, unique_email
from tests.injection import PAYLOADS
from tests.processes import Service

pytestmark = pytest.mark.slow


def _stored(database_url: str, api: Service) -> tuple[str, str]:
    """An account with a chat titled with each payload, and a chat where each payload is a
    user message and its answer (answers written to the database, as a model would have)."""
    email = unique_email("injection")
    with httpx.Client(base_url=api.url, timeout=30) as http:
        registered = http.post(
            "/api/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        chat_id = http.post("/api/chats", json={"title": "messages"}, headers=headers).json()["id"]
        url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(url, autocommit=True) as db:
            for payload in PAYLOADS:
                posted = http.post(
                    f"/api/chats/{chat_id}/messages", json={"content": payload}, headers=headers
                )
                assert posted.status_code == 201, posted.text
                db.execute(
                    "WITH next AS (UPDATE chats SET last_message_seq = last_message_seq + 1"
                    " WHERE id = %(chat)s RETURNING last_message_seq)"
                    " INSERT INTO messages (id, chat_id, seq, role, content, status, created_at)"
                    " SELECT gen_random_uuid(), %(chat)s, last_message_seq, 'assistant',"
                    " %(text)s, 'complete', now() FROM next",
                    {"chat": chat_id, "text": payload},
                )
        for payload in PAYLOADS:
            created = http.post("/api/chats", json={"title": payload}, headers=headers)
            assert created.status_code == 201, created.text
    return email, chat_id


def test_injection_renders_inert(web_tools: WebTools, web_api: Service, database_url: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    email, chat_id = _stored(database_url, web_api)
    run_script(
        web_tools,
        "injection.mjs",
        {
            "MINICHAT_E2E_URL": web_api.url,
            "MINICHAT_E2E_EMAIL": email,
            "MINICHAT_E2E_CHAT": chat_id,
            "MINICHAT_E2E_PAYLOADS": json.dumps(PAYLOADS),
            "MINICHAT_E2E_ARTIFACTS": str(ARTIFACTS),
        },
    )
