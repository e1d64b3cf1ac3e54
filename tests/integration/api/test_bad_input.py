"""Bad input gets a clear 4xx naming the problem, never a 500: bodies, types, sizes, tokens."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from minichat_api.settings import ApiSettings
from tests.conftest import TEST_JWT_SECRET
from tests.factories import Account, create_chat, register, unique_email


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": "not-an-email", "password": "long enough pass"}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": 12345678}, "password"),
        ({"email": ["a@example.com"], "password": "long enough pass"}, "email"),
        ({"email": "a@example.com", "password": "long enough", "display_name": ""}, "display_name"),
        (
            {"email": "a@example.com", "password": "long enough", "display_name": "a\x00b"},
            "display_name",
        ),
    ],
)
async def test_register_validation_names_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": 42}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "nul\x00"}, "title"),
    ],
)
async def test_rename_validation(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    account = await register(client)
    chat = await create_chat(client, account, "kept")
    response = await client.patch(f"/api/chats/{chat['id']}", json=body, headers=account.headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    after = await client.get(f"/api/chats/{chat['id']}", headers=account.headers)
    assert after.json()["title"] == "kept"


async def test_text_with_a_nul_character_is_422_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    """PostgreSQL cannot store U+0000: it is refused up front, naming the field, not a 500."""
    account = await register(client)
    chat = await create_chat(client, account, "kept")
    attempts = [
        ("/api/chats", {"title": "a\x00b"}, "title"),
        (f"/api/chats/{chat['id']}/messages", {"content": "hello\x00"}, "content"),
        ("/api/auth/login", {"email": "a@example.com\x00", "password": "whatever"}, "email"),
    ]
    for path, body, field in attempts:
        response = await client.post(path, json=body, headers=account.headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == field
        assert "U+0000" in response.json()["error"]["message"]
    chats = await client.get("/api/chats", headers=account.headers)
    assert [c["title"] for c in chats.json()["items"]] == ["kept"]
    messages = await client.get(f"/api/chats/{chat['id']}/messages", headers=account.headers)
    assert messages.json()["items"] == []


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        content=b'{"email": "a@example.com", ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_body_of_wrong_json_type_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json=["not", "an", "object"])
    assert response.status_code == 422


async def test_bad_chat_id_names_the_field(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.get("/api/chats/not-a-uuid", headers=account.headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "chat_id"


async def test_oversize_body_is_413(client: httpx.AsyncClient, settings: ApiSettings) -> None:
    account = await register(client)
    chat = await create_chat(client, account)
    huge = json.dumps({"content": "x" * (settings.max_request_bytes + 10)})
    response = await client.post(
        f"/api/chats/{chat['id']}/messages",
        content=huge,
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_oversize_chunked_body_is_413(
    client: httpx.AsyncClient, settings: ApiSettings
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(settings.max_request_bytes // 1024 + 2):
            yield b"x" * 1024

    response = await client.post(
        "/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_unknown_route_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = await client.put("/api/chats")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(account: Account, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": account.user["id"],
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": "minichat",
        "typ": "access",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _bad_tokens(account: Account) -> dict[str, str]:
    header, payload, signature = account.access_token.split(".")
    now = datetime.now(UTC)
    forged_payload = _b64({"sub": str(uuid.uuid4()), "iat": 0, "exp": 9_999_999_999})
    return {
        "garbage": "not-a-jwt",
        "empty-parts": "..",
        "tampered-payload": f"{header}.{forged_payload}.{signature}",
        "tampered-signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "wrong-secret": jwt.encode(_claims(account), "another-secret-" + "y" * 40, "HS256"),
        "expired": jwt.encode(
            _claims(account, iat=now - timedelta(hours=2), exp=now - timedelta(hours=1)),
            TEST_JWT_SECRET,
            "HS256",
        ),
        "no-exp": jwt.encode(_claims(account, exp=None), TEST_JWT_SECRET, "HS256"),
        "no-sub": jwt.encode(_claims(account, sub=None), TEST_JWT_SECRET, "HS256"),
        "no-session": jwt.encode(_claims(account, sid=None), TEST_JWT_SECRET, "HS256"),
        "session-not-uuid": jwt.encode(_claims(account, sid=7), TEST_JWT_SECRET, "HS256"),
        "sub-not-uuid": jwt.encode(_claims(account, sub="admin"), TEST_JWT_SECRET, "HS256"),
        "wrong-type": jwt.encode(_claims(account, typ="refresh"), TEST_JWT_SECRET, "HS256"),
        "hs512": jwt.encode(_claims(account), TEST_JWT_SECRET, "HS512"),
        "unknown-user": jwt.encode(
            _claims(account, sub=str(uuid.uuid4())), TEST_JWT_SECRET, "HS256"
        ),
    }


async def test_bad_tokens_are_401_never_500(client: httpx.AsyncClient) -> None:
    account = await register(client, email=unique_email())
    results = {}
    for name, token in _bad_tokens(account).items():
        response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        results[name] = (response.status_code, response.json()["error"]["code"])
    expected_codes = {"expired": "token_expired"}
    assert results == {name: (401, expected_codes.get(name, "invalid_token")) for name in results}


async def test_a_token_whose_account_is_gone_is_401_on_writes_too(
    client: httpx.AsyncClient,
) -> None:
    """Owner-scoped routes trust the signature alone; a write keyed by the owner still must not
    be a 500 when a token outlives its account."""
    account = await register(client, email=unique_email())
    token = _bad_tokens(account)["unknown-user"]
    headers = {"Authorization": f"Bearer {token}"}
    created = await client.post("/api/chats", json={"title": "orphan"}, headers=headers)
    assert created.status_code == 401, created.text
    assert created.json()["error"]["code"] == "invalid_token"
    listed = await client.get("/api/chats", headers=headers)
    assert listed.json()["items"] == []


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "token abc"])
async def test_malformed_authorization_header_is_401(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/api/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
