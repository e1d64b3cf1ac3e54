"""How fast a generation ends when something goes wrong, timed from the client's side.

Prints p50 / p99 / max, each against its bound, for:
- a cancel sent to one api process while another streams the answer: cancel -> `done`;
- the inference process killed mid-answer: kill -> `error`, kill -> `done {failed}`;
- the api process streaming an answer killed (SIGKILL): kill -> the next delta, streamed by the
  process that adopted the generation, whose answer goes on with no gap and no repeat.

Runs real `minichat inference` (scripted) and `minichat api` processes on PostgreSQL and Redis,
with the api's default settings (heartbeat TTL, reaper interval), as an operator would.

    .venv/bin/python bench/lifecycle.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import ExitStack, aclosing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import mkdtemp

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, ScratchDatabases
from tests.processes import Service, serve, stop

# Long enough that every interruption lands mid-answer.
ANSWER_TOKENS = 2000
TOKEN_INTERVAL_MS = 20
STREAM_TIMEOUT = 60.0
BOUNDS_MS = {"cancel": 200.0, "failure": 2000.0, "adoption": 10_000.0}


@dataclass
class Event:
    id: str
    event: str
    data: dict[str, object]
    at: float


@dataclass
class Setup:
    logs: Path
    inference_env: dict[str, str]
    api_env: dict[str, str]


async def sse(response: aiohttp.ClientResponse) -> AsyncIterator[Event]:
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if "data" in fields:
                yield Event(
                    fields.get("id", ""), fields["event"], json.loads(fields["data"]), time.time()
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


class Client:
    def __init__(self, http: aiohttp.ClientSession, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    async def register(cls, http: aiohttp.ClientSession, api: str) -> Client:
        body = {"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "bench-pass"}
        async with http.post(f"{api}/api/auth/register", json=body) as response:
            return cls(http, (await response.json())["access_token"])

    async def start(self, api: str) -> str:
        async with self.http.post(f"{api}/api/chats", json={}, headers=self.headers) as response:
            chat = (await response.json())["id"]
        message = {"content": "Tell me a long story"}
        url = f"{api}/api/chats/{chat}/messages"
        async with self.http.post(url, json=message, headers=self.headers) as response:
            response.raise_for_status()
        url = f"{api}/api/chats/{chat}/generations"
        async with self.http.post(url, headers=self.headers) as response:
            return str((await response.json())["id"])

    async def cancel(self, api: str, generation: str) -> None:
        url = f"{api}/api/generations/{generation}/cancel"
        async with self.http.post(url, headers=self.headers) as response:
            response.raise_for_status()

    async def follow(
        self, api: str, generation: str, after: str | None = None
    ) -> AsyncGenerator[Event, None]:
        headers = {**self.headers, **({"Last-Event-ID": after} if after else {})}
        url = f"{api}/api/generations/{generation}/stream"
        async with self.http.get(url, headers=headers) as response:
            response.raise_for_status()
            async for event in sse(response):
                yield event


async def cancel_round(client: Client, a: Service, b: Service) -> list[float]:
    generation = await client.start(a.url)
    deltas, sent = 0, 0.0
    async for event in client.follow(a.url, generation):
        if event.event == "delta":
            deltas += 1
            if deltas == 5:
                sent = time.time()
                await client.cancel(b.url, generation)
        elif event.event == "done":
            assert event.data == {"status": "canceled"}, event.data
            return [(event.at - sent) * 1000]
    raise RuntimeError("the stream ended without done")


async def failure_round(client: Client, api: Service, inference: Service) -> list[float]:
    generation = await client.start(api.url)
    deltas, killed, error_at = 0, 0.0, 0.0
    async for event in client.follow(api.url, generation):
        if event.event == "delta":
            deltas += 1
            if deltas == 5:
                killed = time.time()
                stop(inference.process, signal.SIGKILL)
        elif event.event == "error":
            error_at = event.at
        elif event.event == "done":
            assert event.data == {"status": "failed"}, event.data
            return [(error_at - killed) * 1000, (event.at - killed) * 1000]
    raise RuntimeError("the stream ended without done")


async def adoption_round(client: Client, a: Service, b: Service) -> list[float]:
    """Kill `a` mid-answer; the client resumes on `b` at once, as a reconnecting UI would."""
    generation = await client.start(a.url)
    seen: list[Event] = []
    async with aclosing(client.follow(a.url, generation)) as on_a:
        async for event in on_a:
            seen.append(event)
            if len(seen) == 10:
                break
    killed = time.time()
    stop(a.process, signal.SIGKILL)
    async with aclosing(client.follow(b.url, generation, after=seen[-1].id)) as on_b:
        async for event in on_b:
            if event.event != "delta":
                raise RuntimeError(f"adopted generation sent {event.event} {event.data}")
            assert event.data["index"] == len(seen), "the adopted answer left a gap or repeated"
            await client.cancel(b.url, generation)
            return [(event.at - killed) * 1000]
    raise RuntimeError("the stream ended before the adopted answer went on")


@contextmanager
def api_process(setup: Setup, inference: Service) -> Iterator[Service]:
    with serve(["api"], {**setup.api_env, "INFERENCE_URL": inference.url}, setup.logs) as api:
        yield api


async def run(setup: Setup, rounds: int) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=STREAM_TIMEOUT)) as http:
        with ExitStack() as stack:
            inference = stack.enter_context(serve(["inference"], setup.inference_env, setup.logs))
            b = stack.enter_context(api_process(setup, inference))
            client = await Client.register(http, b.url)
            with api_process(setup, inference) as a:
                cancels = [await cancel_round(client, a, b) for _ in range(rounds)]
            report("cancel on another api -> done", [c[0] for c in cancels], "cancel")
            adoptions = []
            for _ in range(max(3, rounds // 4)):
                with api_process(setup, inference) as a:
                    adoptions.append(await adoption_round(client, a, b))
            report("api killed -> next delta", [r[0] for r in adoptions], "adoption")
        failures = []
        for _ in range(max(3, rounds // 4)):
            with (
                serve(["inference"], setup.inference_env, setup.logs) as inference,
                api_process(setup, inference) as api,
            ):
                failures.append(await failure_round(client, api, inference))
        report("inference killed -> error", [f[0] for f in failures], "failure")
        report("inference killed -> done", [f[1] for f in failures], "failure")


def report(label: str, values_ms: list[float], bound: str) -> None:
    ordered = sorted(values_ms)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"{label:<32} n={len(ordered):<3} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms"
        f"  max {ordered[-1]:8.1f} ms  (bound {BOUNDS_MS[bound]:g} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="cancels; a quarter as many kills")
    args = parser.parse_args()
    logs = Path(mkdtemp(prefix="minichat-bench-"))
    with ExitStack() as stack:
        databases = ScratchDatabases(POSTGRES_ADMIN_URL, prefix="minichat_bench")
        stack.callback(databases.drop_all)
        setup = Setup(
            logs,
            {
                "INFERENCE_BACKEND": "scripted",
                "INFERENCE_SCRIPTED_TOKENS": str(ANSWER_TOKENS),
                "INFERENCE_SCRIPTED_INTERVAL_MS": str(TOKEN_INTERVAL_MS),
                "LOG_LEVEL": "WARNING",
            },
            {
                "DATABASE_URL": databases.create("lifecycle"),
                "REDIS_URL": REDIS_URL,
                "REDIS_KEY_PREFIX": f"minichat-bench-{uuid.uuid4().hex[:8]}:",
                "JWT_SECRET": "bench-" + "x" * 60,
                "RELAY_IN_API": "false",
                "LOG_LEVEL": "WARNING",
            },
        )
        asyncio.run(run(setup, args.rounds))
    print(f"(process logs in {logs})")


if __name__ == "__main__":
    main()
