"""Streaming through the api vs. straight from the inference plane, on the scripted backend.

Prints, in one run: time to first token (p50/p99) at 1, 50 and 200 concurrent streams, directly
from `minichat inference` and through `minichat api` (create generation + SSE), and the added
latency, both with that many streams open (a closed loop, as load tools count concurrency) and
with that many created in the same instant (a burst); then the most concurrent streams one api
process sustains with delta lag p99 <= 50 ms, and delta events per second per api core.

    .venv/bin/python bench/stream.py [--levels 1,50,200] [--capacity 25,50,100,250,500,1000,2000]
        [--tokens 64] [--interval-ms 20]  # the scripted model's answers
        [--profile /tmp/api.txt]   # py-spy's collapsed stacks of the api at each capacity level
        [--tracing off|on|cost]    # on: the processes export spans to an OTLP receiver here;
                                   # cost: only what tracing adds to TTFT and api CPU

The client is aiohttp, lighter than the api it measures; the table shows each process's CPU,
since on a small machine they all share it.

Needs PostgreSQL, Redis (the test servers) and starts its own inference and api processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import mkdtemp

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, ScratchDatabases
from tests.otlp import otlp_receiver
from tests.processes import Service, serve


@dataclass
class Pace:
    """The scripted model's answers: how many tokens, how far apart."""

    tokens: int = 64
    interval_ms: float = 20.0

    @property
    def duration_s(self) -> float:
        return self.tokens * self.interval_ms / 1000


PACE = Pace()
LAG_TARGET_MS = 50.0
SAMPLES_PER_LEVEL = 50
STREAM_TIMEOUT = 60.0


# Chats per bench user: as many users as a real crowd, each within fair use (3 answers at
# once), so the bench measures the api and not one user's turns at its row lock.
CHATS_PER_USER = 2


@dataclass
class Api:
    client: aiohttp.ClientSession
    base: str
    # The headers of the user who owns each chat.
    owners: dict[str, dict[str, str]] = field(default_factory=dict)
    _user: dict[str, str] | None = None
    _user_chats: int = 0

    async def owner_of_next_chat(self) -> dict[str, str]:
        if self._user is None or self._user_chats >= CHATS_PER_USER:
            self._user, self._user_chats = await self.register(), 0
        self._user_chats += 1
        return self._user

    async def register(self) -> dict[str, str]:
        async with self.client.post(
            f"{self.base}/api/auth/register",
            json={
                "email": f"bench-{uuid.uuid4().hex[:12]}@example.com",
                "password": "benchmark-pass",
            },
        ) as response:
            response.raise_for_status()
            registered = await response.json()
        return {"Authorization": f"Bearer {registered['access_token']}"}


@dataclass
class StreamResult:
    ttft_ms: float
    lags_ms: list[float] = field(default_factory=list)
    events: int = 0
    # Through the api: how long POST /generations took, of the time to first token.
    create_ms: float = 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def lags(arrivals: list[tuple[float, int]]) -> list[float]:
    """How late each delta arrived, against the model's fixed pace from the first token."""
    if not arrivals:
        return []
    first, _ = arrivals[0]
    return [
        max(0.0, (t - first) * 1000 - tokens_before * PACE.interval_ms)
        for t, tokens_before in arrivals
    ]


async def direct_stream(client: aiohttp.ClientSession, base: str) -> StreamResult:
    body = {
        "model": "minichat-scripted",
        "messages": [{"role": "user", "content": "benchmark"}],
        "stream": True,
    }
    start = time.perf_counter()
    arrivals: list[tuple[float, int]] = []
    words = 0
    async with client.post(f"{base}/v1/chat/completions", json=body) as response:
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if not line.startswith("data:") or line.endswith("[DONE]"):
                continue
            chunk = json.loads(line[5:])
            text = "".join((c.get("delta") or {}).get("content") or "" for c in chunk["choices"])
            if text:
                arrivals.append((time.perf_counter(), words))
                words += len(text.split())
    return StreamResult((arrivals[0][0] - start) * 1000, lags(arrivals), len(arrivals))


async def api_stream(api: Api, chat_id: str) -> StreamResult:
    start = time.perf_counter()
    async with api.client.post(
        f"{api.base}/api/chats/{chat_id}/generations", headers=api.owners[chat_id]
    ) as created:
        created.raise_for_status()
        generation_id = (await created.json())["id"]
    create_ms = (time.perf_counter() - start) * 1000
    try:
        result = await asyncio.wait_for(
            _follow(api, api.owners[chat_id], generation_id, start), STREAM_TIMEOUT
        )
    except TimeoutError as exc:
        raise RuntimeError(
            f"generation {generation_id} of {api.base}: no done after {STREAM_TIMEOUT} s"
        ) from exc
    result.create_ms = create_ms
    return result


async def _follow(
    api: Api, headers: dict[str, str], generation_id: str, start: float
) -> StreamResult:
    arrivals: list[tuple[float, int]] = []
    words = 0
    event = ""
    async with api.client.get(
        f"{api.base}/api/generations/{generation_id}/stream", headers=headers
    ) as response:
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "delta":
                text = json.loads(line[5:])["text"]
                arrivals.append((time.perf_counter(), words))
                words += len(text.split())
            elif line.startswith("data:") and event == "error":
                raise RuntimeError(f"generation {generation_id} failed: {line[5:]}")
            elif line.startswith("data:") and event == "done":
                break
    if not arrivals:
        raise RuntimeError(f"generation {generation_id} streamed no text")
    return StreamResult((arrivals[0][0] - start) * 1000, lags(arrivals), len(arrivals))


async def prepare_chats(api: Api, count: int) -> list[str]:
    async def one(headers: dict[str, str]) -> str:
        async with api.client.post(f"{api.base}/api/chats", json={}, headers=headers) as response:
            chat = await response.json()
        async with api.client.post(
            f"{api.base}/api/chats/{chat['id']}/messages",
            json={"content": "benchmark"},
            headers=headers,
        ) as response:
            response.raise_for_status()
        api.owners[str(chat["id"])] = headers
        return str(chat["id"])

    chats: list[str] = []
    for offset in range(0, count, 100):
        owners = [await api.owner_of_next_chat() for _ in range(min(100, count - offset))]
        chats += await asyncio.gather(*(one(headers) for headers in owners))
    return chats


TTFT_HEADER = ("streams", "direct p50", "p99", "api p50", "p99", "added p50", "p99", "create p50")


@dataclass
class Ttfts:
    direct: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)
    creates: list[float] = field(default_factory=list)


async def ttft_row(
    api: Api, inference_url: str, level: int, measure: Callable[[Api, str, int], Awaitable[Ttfts]]
) -> str:
    t = await measure(api, inference_url, level)
    d50, d99, a50, a99 = (percentile(x, q) for x in (t.direct, t.api) for q in (50, 99))
    return row(level, d50, d99, a50, a99, a50 - d50, a99 - d99, percentile(t.creates, 50))


async def steady_ttfts(api: Api, inference_url: str, level: int) -> Ttfts:
    """`level` clients in a closed loop, as load tools count concurrency; each client's first
    stream (the ramp) is left out, so about `level` streams are open at every measured start."""
    rounds = 1 + -(-SAMPLES_PER_LEVEL // level)
    t = Ttfts()

    async def direct_client(position: int) -> None:
        await asyncio.sleep(position * PACE.duration_s / level)
        for number in range(rounds):
            result = await direct_stream(api.client, inference_url)
            if number:
                t.direct.append(result.ttft_ms)

    async def api_client(position: int, chats: list[str]) -> None:
        await asyncio.sleep(position * PACE.duration_s / level)
        for number, chat in enumerate(chats):
            result = await api_stream(api, chat)
            if number:
                t.api.append(result.ttft_ms)
                t.creates.append(result.create_ms)

    await asyncio.gather(*(direct_client(i) for i in range(level)))
    chats = await prepare_chats(api, level * rounds)
    await asyncio.gather(*(api_client(i, chats[i::level]) for i in range(level)))
    return t


async def burst_ttfts(api: Api, inference_url: str, level: int) -> Ttfts:
    """`level` streams started in the same instant, in rounds enough for SAMPLES_PER_LEVEL."""
    t = Ttfts()
    for _round in range(max(1, SAMPLES_PER_LEVEL // level)):
        chats = await prepare_chats(api, level)
        direct = await asyncio.gather(
            *(direct_stream(api.client, inference_url) for _ in range(level))
        )
        through_api = await asyncio.gather(*(api_stream(api, c) for c in chats))
        t.direct += [r.ttft_ms for r in direct]
        t.api += [r.ttft_ms for r in through_api]
        t.creates += [r.create_ms for r in through_api]
    return t


def row(*cells: object) -> str:
    return " ".join(f"{c:>10.2f}" if isinstance(c, float) else f"{c!s:>10}" for c in cells)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(
    levels: list[int],
    capacity: list[int],
    inference: Service,
    api_service: Service,
    profile: Path | None,
) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        api = Api(client, api_service.url)
        # Warm up both paths: connections, statement caches, the model name lookup.
        await asyncio.gather(*(direct_stream(client, inference.url) for _ in range(5)))
        for chat in await prepare_chats(api, 5):
            await api_stream(api, chat)
        if levels:
            await print_ttft(api, inference.url, levels)
        if capacity:
            await print_capacity(api, api_service, inference, capacity, profile)


async def print_ttft(api: Api, inference_url: str, levels: list[int]) -> None:
    print(
        f"time to first token, ms ({PACE.tokens} tokens {PACE.interval_ms:g} ms apart),"
        " with that many streams open: each client starts a stream as its last one ends,"
        " the clients' starts spread over one answer"
    )
    print(row(*TTFT_HEADER))
    for level in levels:
        print(await ttft_row(api, inference_url, level, steady_ttfts))
    if any(level > 1 for level in levels):
        print("the same, with that many streams created at once (a burst)")
        print(row(*TTFT_HEADER))
        for level in levels:
            if level > 1:
                print(await ttft_row(api, inference_url, level, burst_ttfts))


async def print_capacity(
    api: Api, api_service: Service, inference: Service, capacity: list[int], profile: Path | None
) -> None:
    print(
        f"\nconcurrent streams held by one api process (lag p99 <= {LAG_TARGET_MS:g} ms):"
        f" new streams arrive at level / {PACE.duration_s:g} s per second for"
        f" {2 * PACE.duration_s:g} s; figures are of the streams that started once that"
        " many were open"
    )
    print(
        row(
            *("streams", "lag p50", "lag p99", "ttft p99", "create p99"),
            *("events/s", "api cpu", "ev/s/core", "model cpu", "bench cpu"),
        )
    )
    sustained = 0
    for level in capacity:
        line, ok = await hold(api, api_service, inference, level, profile)
        print(line)
        if not ok:
            break
        sustained = level
    print(f"\nmost concurrent streams sustained with lag p99 <= {LAG_TARGET_MS:g} ms: {sustained}")


async def hold(
    api: Api, api_service: Service, inference: Service, level: int, profile: Path | None
) -> tuple[str, bool]:
    """`level` streams open at once, in a steady state: each stream lasts one answer, so
    arrivals at `level` per answer-duration keep about `level` open. Streams that started in
    the first answer-duration (the ramp) are left out of the figures."""
    duration = PACE.duration_s
    total = 2 * level
    chats = await prepare_chats(api, total)
    recorder = start_profile(api_service, profile, level)
    # CPU of each process over the level, in cores: the box is shared by all of them.
    cpu_before, wall_before = cpu_seconds(api_service.process.pid), time.perf_counter()
    model_before, bench_before = cpu_seconds(inference.process.pid), time.process_time()

    async def arrive(position: int, chat: str) -> StreamResult:
        await asyncio.sleep(position * duration / level)
        return await api_stream(api, chat)

    results = await asyncio.gather(
        *(arrive(i, c) for i, c in enumerate(chats)), return_exceptions=True
    )
    wall = time.perf_counter() - wall_before
    cpu = cpu_seconds(api_service.process.pid) - cpu_before
    model_cpu = cpu_seconds(inference.process.pid) - model_before
    bench_cpu = time.process_time() - bench_before
    stop_profile(recorder)
    failures = [r for r in results if not isinstance(r, StreamResult)]
    for problem in failures[:3]:
        print(f"  failure: {problem!r}")
    steady = [r for r in results[level:] if isinstance(r, StreamResult)]
    everything = [r for r in results if isinstance(r, StreamResult)]
    all_lags = [lag for r in steady for lag in r.lags_ms]
    events = sum(r.events for r in everything)
    p99 = percentile(all_lags, 99)
    line = row(
        *(level, percentile(all_lags, 50), p99),
        *(
            percentile([r.ttft_ms for r in steady], 99),
            percentile([r.create_ms for r in steady], 99),
        ),
        *(events / wall, cpu / wall, events / cpu if cpu else 0.0),
        *(model_cpu / wall, bench_cpu / wall),
    )
    if failures:
        line += f"  ({len(failures)} failed)"
    return line, not failures and p99 <= LAG_TARGET_MS


def start_profile(api: Service, profile: Path | None, level: int) -> subprocess.Popen[bytes] | None:
    """py-spy samples the api process while `level` streams run (collapsed stacks per level)."""
    if profile is None:
        return None
    output = profile.with_name(f"{profile.stem}-{level}{profile.suffix or '.txt'}")
    return subprocess.Popen(
        [
            *(
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(api.process.pid),
                "--rate",
                "200",
            ),
            *("--format", "raw", "--nonblocking", "--output", str(output)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profile(recorder: subprocess.Popen[bytes] | None) -> None:
    if recorder is not None:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=30)


COST_SAMPLES = 200
COST_BATCHES = 10
COST_CONCURRENCY = 20


@dataclass
class Traced:
    api: Api
    service: Service
    ttfts: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    generations: int = 0


async def print_tracing_cost(client: aiohttp.ClientSession, off: Service, on: Service) -> None:
    """TTFT and api CPU per generation with tracing off and on, measured in alternation so
    that the machine's other load weighs on both alike."""
    sides = [Traced(Api(client, service.url), service) for service in (off, on)]
    for side in sides:  # warm up: connections, statement caches, the model name
        for chat in await prepare_chats(side.api, 5):
            await api_stream(side.api, chat)
    for _ in range(COST_SAMPLES):
        for side in sides:
            (chat,) = await prepare_chats(side.api, 1)
            side.ttfts.append((await api_stream(side.api, chat)).ttft_ms)
    for _ in range(COST_BATCHES):
        for side in sides:
            chats = await prepare_chats(side.api, COST_CONCURRENCY)
            before = cpu_seconds(side.service.process.pid)
            await asyncio.gather(*(api_stream(side.api, chat) for chat in chats))
            side.cpu_s += cpu_seconds(side.service.process.pid) - before
            side.generations += len(chats)
    print(
        f"tracing cost ({PACE.tokens} tokens {PACE.interval_ms:g} ms apart): TTFT of"
        f" {COST_SAMPLES} generations one at a time; api CPU (POST + stream + end) over"
        f" {COST_BATCHES * COST_CONCURRENCY} generations, {COST_CONCURRENCY} at a time"
    )
    print(row("tracing", "ttft p50", "ttft p99", "cpu ms/gen"))
    for name, side in zip(("off", "on"), sides, strict=True):
        cpu_ms = 1000 * side.cpu_s / side.generations
        print(row(name, percentile(side.ttfts, 50), percentile(side.ttfts, 99), cpu_ms))
    off_side, on_side = sides
    off_cpu, on_cpu = (1000 * s.cpu_s / s.generations for s in sides)
    added_p50 = percentile(on_side.ttfts, 50) - percentile(off_side.ttfts, 50)
    print(
        f"tracing adds {added_p50:.2f} ms to TTFT p50 (target <= 0.5) and"
        f" {on_cpu - off_cpu:.2f} ms of api CPU per generation,"
        f" {100 * (on_cpu - off_cpu) / off_cpu:.1f} % (target <= 10 %)"
    )


async def run_tracing_cost(off: Service, on: Service) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        await print_tracing_cost(client, off, on)


def start_pair(
    stack: ExitStack, database_url: str, logs: Path, otel: dict[str, str]
) -> tuple[Service, Service]:
    """An inference and an api process on the scripted model: (api, inference)."""
    inference = stack.enter_context(
        serve(
            ["inference"],
            {
                **otel,
                "INFERENCE_BACKEND": "scripted",
                "INFERENCE_SCRIPTED_TOKENS": str(PACE.tokens),
                "INFERENCE_SCRIPTED_INTERVAL_MS": str(PACE.interval_ms),
                "INFERENCE_MAX_CONCURRENCY": "10000",
                "INFERENCE_MAX_QUEUE": "10000",
                "LOG_LEVEL": "WARNING",
            },
            logs,
        )
    )
    return stack.enter_context(
        serve(
            ["api"],
            {
                **otel,
                "DATABASE_URL": database_url,
                "REDIS_URL": REDIS_URL,
                "REDIS_KEY_PREFIX": f"minichat-bench-{uuid.uuid4().hex[:8]}:",
                "INFERENCE_URL": inference.url,
                "JWT_SECRET": "bench-" + "x" * 60,
                "GENERATION_CONCURRENCY": "10000",
                # The bench's users all come from one address, at a machine's pace.
                "LIMIT_REGISTRATIONS_PER_ADDRESS_PER_HOUR": "10000000",
                "LIMIT_LOGINS_PER_ADDRESS_PER_MINUTE": "10000000",
                "LIMIT_MESSAGES_PER_MINUTE": "10000000",
                # Events are another benchmark's subject (bench/events.py).
                "RELAY_IN_API": "false",
                "LOG_LEVEL": os.environ.get("BENCH_API_LOG_LEVEL", "WARNING"),
            },
            logs,
        )
    ), inference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,50,200", help="'' skips the TTFT table")
    parser.add_argument("--capacity", default="25,50,100,250,500,1000,2000", help="'' skips it")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the api with py-spy during each capacity level (PATH-<level>.txt)",
    )
    parser.add_argument("--tokens", type=int, default=PACE.tokens, help="tokens per answer")
    parser.add_argument(
        "--interval-ms", type=float, default=PACE.interval_ms, help="the model's token pace"
    )
    parser.add_argument(
        "--tracing",
        choices=("off", "on", "cost"),
        default="off",
        help="on: export spans (to a receiver in this process); cost: tracing off vs. on",
    )
    args = parser.parse_args()
    PACE.tokens, PACE.interval_ms = args.tokens, args.interval_ms
    logs = Path(mkdtemp(prefix="minichat-bench-"))
    with ExitStack() as stack:
        databases = ScratchDatabases(POSTGRES_ADMIN_URL, prefix="minichat_bench")
        stack.callback(databases.drop_all)
        database_url = databases.create("stream")
        receiver = stack.enter_context(otlp_receiver())
        traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        if args.tracing == "cost":
            # A database each: apis sharing one would adopt each other's generations.
            off, _ = start_pair(stack, database_url, logs, {})
            on, _ = start_pair(stack, databases.create("stream_traced"), logs, traced)
            asyncio.run(run_tracing_cost(off, on))
            print(f"(the receiver got {len(receiver.spans)} spans; process logs in {logs})")
            return
        api, inference = start_pair(
            stack, database_url, logs, traced if args.tracing == "on" else {}
        )
        asyncio.run(
            run(
                [int(x) for x in args.levels.split(",") if x],
                [int(x) for x in args.capacity.split(",") if x],
                inference,
                api,
                args.profile,
            )
        )
    print(f"(process logs in {logs})")


if __name__ == "__main__":
    main()
