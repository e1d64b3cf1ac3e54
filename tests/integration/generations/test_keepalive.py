"""SSE keep-alive: a client whose answer has not started yet still hears from the stream at a
fixed interval, from the first second, so no proxy's idle timeout cuts it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from pathlib import Path

import httpx

from minichat_api.settings import ApiSettings
from tests.factories import Account, register, start_generation
from tests.integration.generations.conftest import running_api, scripted_env
from tests.processes import Service, serve

PING_SECONDS = 0.3


async def _comment_times(
    client: httpx.AsyncClient, account: Account, generation_id: object, seconds: float
) -> list[float]:
    """When each comment line of the stream arrived, in seconds from the request, for a while;
    fails on any event (the answer was meant not to start)."""
    started = time.monotonic()
    arrivals: list[float] = []
    url = f"/api/generations/{generation_id}/stream"
    async with client.stream("GET", url, headers=account.headers) as response:
        assert response.status_code == 200

        async def read() -> None:
            async for line in response.aiter_lines():
                assert not line.startswith(("event:", "data:")), line
                if line.startswith(":"):
                    arrivals.append(time.monotonic() - started)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(read(), seconds)
    return arrivals


def _assert_regular(arrivals: list[float], within: float) -> None:
    assert arrivals, "no ping at all"
    assert arrivals[0] < 1.0  # from the first second
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) >= within / PING_SECONDS - 2
    assert max(gaps) < 3 * PING_SECONDS


async def test_a_queued_generation_s_client_is_pinged(
    settings: ApiSettings, slow_inference: Service
) -> None:
    one_slot = settings.model_copy(
        update={
            "inference_url": slow_inference.url,
            "generation_concurrency": 1,
            "stream_ping_seconds": PING_SECONDS,
        }
    )
    async with running_api(one_slot) as client:
        account = await register(client)
        running = await start_generation(client, account)
        queued = await start_generation(client, account)
        assert queued["status"] == "queued"
        arrivals = await _comment_times(client, account, queued["id"], 2.0)
        for generation in (queued, running):
            await client.post(
                f"/api/generations/{generation['id']}/cancel", headers=account.headers
            )
    _assert_regular(arrivals, 2.0)


async def test_a_client_waiting_on_a_busy_model_server_is_pinged(
    settings: ApiSettings, tmp_path: Path
) -> None:
    """The model server takes one answer at a time and refuses the next with 429: that one's
    generation streams, but writes nothing while it waits to ask again."""
    one_at_a_time = {
        **scripted_env(400, 25),
        "INFERENCE_MAX_CONCURRENCY": "1",
        "INFERENCE_MAX_QUEUE": "0",
    }
    with serve(["inference"], one_at_a_time, tmp_path) as inference:
        async with running_api(
            settings.model_copy(
                update={"inference_url": inference.url, "stream_ping_seconds": PING_SECONDS}
            )
        ) as client:
            account = await register(client)
            answering = await start_generation(client, account)
            waiting = await start_generation(client, account)
            assert waiting["status"] == "streaming"
            arrivals = await _comment_times(client, account, waiting["id"], 2.0)
            for generation in (waiting, answering):
                await client.post(
                    f"/api/generations/{generation['id']}/cancel", headers=account.headers
                )
        assert "429" in inference.output()
    _assert_regular(arrivals, 2.0)
