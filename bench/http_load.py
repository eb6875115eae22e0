"""End-to-end HTTP load against the running service, over loopback.

A deliberately thin HTTP/1.1 keep-alive client on raw asyncio streams: on a
two-core machine the load generator shares the CPU with the service, and a
full-featured client would measure itself as much as the service.

Closed loop: C clients each send their next request as soon as the previous
answer arrives (what "C concurrent clients" means); by Little's law latency is
then C / throughput, so it measures queueing as much as the service.
Open loop: requests are scheduled at a fixed rate over C connections and
latency counts from the scheduled time, so a slow answer cannot hide the
requests it delayed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    unanswered: int = 0  # open loop: still waiting when the time bound ran out

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def request_bytes(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, limit=1 << 24)


async def closed_loop(
    host: str, port: int, payload: bytes, clients: int, count: int, budget_s: float
) -> LoadResult:
    """`clients` connections, each sending again when answered, for `count` requests or `budget_s` seconds."""
    result = LoadResult()
    issued = 0
    start = time.perf_counter()
    deadline = start + budget_s

    async def client() -> None:
        nonlocal issued
        reader, writer = await _connect(host, port)
        try:
            while issued < count and time.perf_counter() < deadline:
                issued += 1
                t = time.perf_counter()
                status = await _exchange(reader, writer, payload)
                if status == 200:
                    result.latencies.append(time.perf_counter() - t)
                else:
                    result.errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    result.elapsed = time.perf_counter() - start
    return result


async def open_loop(
    host: str, port: int, payload: bytes, connections: int, rate: float, duration_s: float
) -> LoadResult:
    """`rate` requests/s for `duration_s`, over a pool of `connections` keep-alive connections.

    Bounded: whatever is unanswered 2 × duration + 5 s after the start is counted, not awaited.
    """
    result = LoadResult()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await _connect(host, port))
    start = time.perf_counter()
    total = int(rate * duration_s)

    async def one(scheduled: float) -> None:
        conn = await pool.get()
        try:
            status = await _exchange(conn[0], conn[1], payload)
        finally:
            pool.put_nowait(conn)
        if status == 200:
            result.latencies.append(time.perf_counter() - scheduled)
        else:
            result.errors += 1

    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, start + 2 * duration_s + 5 - time.perf_counter()))
    for task in pending:
        task.cancel()
    result.unanswered = len(pending)
    result.elapsed = time.perf_counter() - start
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return result
