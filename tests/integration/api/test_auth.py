"""The auth routes on a real database: register, login, refresh rotation, me, logout."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from minichat_api.main import create_app
from minichat_api.settings import ApiSettings
from tests.conftest import in_process
from tests.eventually import eventually
from tests.factories import DEFAULT_PASSWORD, register, unique_email


async def test_register_answers_user_and_tokens(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/auth/register",
        json={"email": email, "password": DEFAULT_PASSWORD, "display_name": "Ada"},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert set(body["user"]) == {"id", "email", "display_name", "created_at"}
    assert body["user"]["email"] == email
    assert body["user"]["display_name"] == "Ada"
    assert body["user"]["created_at"].endswith("Z")


async def test_register_defaults_display_name_and_normalises_email(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email("Mixed.Case")
    account = await register(client, email=email.upper())
    assert account.user["email"] == email.lower()
    assert account.user["display_name"] == email.lower().split("@")[0]


async def test_register_twice_with_same_email_is_conflict(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.post(
        "/api/auth/register", json={"email": account.email.upper(), "password": "another-pass"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "email_taken",
        "message": "an account with this email already exists",
        "field": "email",
    }


async def test_me_returns_the_token_owner(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.get("/api/auth/me", headers=account.headers)
    assert response.status_code == 200
    assert response.json() == account.user


async def test_login_with_right_password(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == account.user
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["id"] == account.user["id"]


async def test_login_unknown_email_and_wrong_password_answer_alike(
    client: httpx.AsyncClient,
) -> None:
    account = await register(client)
    wrong_password = await client.post(
        "/api/auth/login", json={"email": account.email, "password": "not-the-password"}
    )
    unknown_email = await client.post(
        "/api/auth/login", json={"email": unique_email(), "password": "not-the-password"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"
    assert wrong_password.headers["www-authenticate"] == "Bearer"


async def test_repeated_failed_logins_are_throttled(
    client: httpx.AsyncClient, settings: ApiSettings
) -> None:
    account = await register(client)
    bad = {"email": account.email, "password": "wrong-password"}
    for _ in range(settings.login_max_failures):
        assert (await client.post("/api/auth/login", json=bad)).status_code == 401
    throttled = await client.post("/api/auth/login", json=bad)
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_login_attempts"
    assert 1 <= int(throttled.headers["retry-after"]) <= settings.login_failure_window_seconds
    # While throttled even the right password is refused: guessing gains nothing.
    right = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    assert right.status_code == 429


async def test_successful_login_clears_failures(
    client: httpx.AsyncClient, settings: ApiSettings
) -> None:
    account = await register(client)
    bad = {"email": account.email, "password": "wrong-password"}
    good = {"email": account.email, "password": account.password}
    for _ in range(settings.login_max_failures - 1):
        assert (await client.post("/api/auth/login", json=bad)).status_code == 401
    assert (await client.post("/api/auth/login", json=good)).status_code == 200
    for _ in range(settings.login_max_failures - 1):
        assert (await client.post("/api/auth/login", json=bad)).status_code == 401
    assert (await client.post("/api/auth/login", json=good)).status_code == 200


async def test_refresh_rotates_tokens(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["refresh_token"] != account.refresh_token
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    # The new refresh token works in turn.
    again = await client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_family(
    client: httpx.AsyncClient,
) -> None:
    account = await register(client)
    first = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    newest = first.json()["refresh_token"]

    reuse = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "refresh_token_reused"

    # The thief's reuse also killed the token the legitimate client holds.
    after = await client.post("/api/auth/refresh", json={"refresh_token": newest})
    assert after.status_code == 401


async def test_reuse_does_not_touch_other_logins(client: httpx.AsyncClient) -> None:
    account = await register(client)
    other_login = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    other_refresh = other_login.json()["refresh_token"]
    await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    still_valid = await client.post("/api/auth/refresh", json={"refresh_token": other_refresh})
    assert still_valid.status_code == 200


async def test_concurrent_refresh_with_one_token_has_one_winner(
    client: httpx.AsyncClient,
) -> None:
    account = await register(client)
    responses = await asyncio.gather(
        *(
            client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
            for _ in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 401, 401, 401, 401]


@pytest.mark.parametrize("token", ["", "x" * 513])
async def test_refresh_rejects_malformed_tokens(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "refresh_token"


async def test_refresh_with_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/refresh", json={"refresh_token": "never-issued"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_refresh_token"


async def test_expired_refresh_token_is_refused(
    client: httpx.AsyncClient, db: psycopg.AsyncConnection
) -> None:
    account = await register(client)
    await db.execute(
        "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = %s",
        (account.user["id"],),
    )
    response = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "refresh_token_expired"


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.post("/api/auth/logout", json={"refresh_token": account.refresh_token})
    assert response.status_code == 204
    assert "content-type" not in response.headers
    after = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert after.status_code == 401


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers=_bearer(token))


async def test_logout_signs_out_the_session_s_access_token_and_no_other(
    client: httpx.AsyncClient,
) -> None:
    account = await register(client)
    other = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    assert (await _me(client, account.access_token)).status_code == 200

    await client.post("/api/auth/logout", json={"refresh_token": account.refresh_token})

    signed_out = await _me(client, account.access_token)
    assert signed_out.status_code == 401
    assert signed_out.json()["error"]["code"] == "session_revoked"
    assert (await _me(client, other.json()["access_token"])).status_code == 200


async def test_a_reused_refresh_token_signs_out_every_access_token_of_its_session(
    client: httpx.AsyncClient,
) -> None:
    account = await register(client)
    rotated = (
        await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    ).json()
    assert (await _me(client, rotated["access_token"])).status_code == 200

    reuse = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert reuse.status_code == 401

    for token in (account.access_token, rotated["access_token"]):
        response = await _me(client, token)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "session_revoked"


async def test_a_logout_on_one_api_process_signs_the_session_out_on_another(
    client: httpx.AsyncClient, settings: ApiSettings
) -> None:
    async with in_process(create_app(settings)) as elsewhere:
        account = await register(client)
        assert (await _me(elsewhere, account.access_token)).status_code == 200
        await client.post("/api/auth/logout", json={"refresh_token": account.refresh_token})

        async def refused_elsewhere() -> bool:
            return (await _me(elsewhere, account.access_token)).status_code == 401

        await eventually(refused_elsewhere, "the other process to refuse the token", 10)


async def test_parallel_wrong_passwords_each_count_as_a_failure(
    client: httpx.AsyncClient, settings: ApiSettings, db: psycopg.AsyncConnection
) -> None:
    account = await register(client)
    bad = {"email": account.email, "password": "wrong-password"}
    attempts = 50
    responses = await asyncio.gather(
        *(client.post("/api/auth/login", json=bad) for _ in range(attempts))
    )
    codes = sorted(r.status_code for r in responses)
    # No more than the allowed failures reached the password check; the rest were throttled.
    assert codes.count(401) <= settings.login_max_failures
    assert set(codes) <= {401, 429}
    cursor = await db.execute(
        "SELECT count(*) FROM login_failures WHERE key LIKE %s", (f"{account.email}|%",)
    )
    assert await cursor.fetchone() == (attempts,)
    right = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    assert right.status_code == 429
