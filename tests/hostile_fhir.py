"""A hostile FHIR server on 127.0.0.1, for the security tests and the fuzz suite.

One asyncio server in a background thread; the first path segment picks the
behaviour, so one server can play every role: `http://127.0.0.1:PORT/<mode>/fhir`.

- ok: a Patient for `Patient/<id>`, an empty searchset for every search;
- drip: headers, then one byte every `drip_interval` s for `drip_seconds` (a per-read
  timeout never fires);
- huge: a valid Bundle of `huge_bytes`, sent as fast as the client reads it;
- stall: accepts the connection and never answers;
- dotdot: searches page on to `<base>/../admin/...`;
- ctl: searches page on to a link with a control and a non-ASCII character;
- elsewhere: searches page on to another host;
- redirect: every answer a 302 to `/admin/steal`;
- garbage: `200` with bytes that are not JSON.

Every request is logged (path, whether it carried an Authorization header); a request
whose path is not under `/<mode>/fhir` is an *escape*: the service sent a request, and
maybe the EHR's token, outside the allowed base.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

MODES = ("ok", "drip", "huge", "stall", "dotdot", "ctl", "elsewhere", "redirect", "garbage")


@dataclass
class Hit:
    path: str
    authorized: bool


@dataclass
class HostileFhir:
    drip_seconds: float = 8.0
    drip_interval: float = 0.05
    huge_bytes: int = 50_000_000
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    sent_bytes: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.AbstractServer | None = None
    _thread: threading.Thread | None = None

    def base(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/fhir"

    @property
    def escapes(self) -> list[Hit]:
        out = []
        for h in self.hits:
            parts = unquote(h.path).split("?")[0].split("/")
            if len(parts) < 3 or parts[1] not in MODES or parts[2] != "fhir" or ".." in parts:
                out.append(h)
        return out

    # -- life cycle -------------------------------------------------------------------

    def __enter__(self) -> HostileFhir:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        loop = self._loop
        if loop is None:
            return

        async def stop() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        if not loop.is_running():
            loop.close()

    # -- one connection -----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").split("\r\n")
            _method, target, _ = ([*lines[0].split(" ", 2), "", ""])[:3]
            headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
            self.hits.append(Hit(target, "authorization" in headers))
            await self._answer(target, headers, reader, writer)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _send(self, writer, status: int, body: bytes, extra: str = "") -> None:
        reason = {200: "OK", 302: "Found", 404: "Not Found"}.get(status, "X")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/fhir+json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n".encode()
            + body
        )
        await writer.drain()
        self.sent_bytes += len(body)

    async def _answer(self, target: str, headers: dict[str, str], reader, writer) -> None:
        path = target.split("?")[0]
        parts = path.split("/")
        mode = parts[1] if len(parts) > 1 else ""
        base = f"http://127.0.0.1:{self.port}/{mode}/fhir"
        rest = "/".join(parts[3:])
        if mode not in MODES or (len(parts) > 2 and parts[2] != "fhir"):
            await self._send(writer, 404, b'{"resourceType":"OperationOutcome"}')
            return
        if mode == "stall":
            await asyncio.sleep(3600)
            return
        if mode == "redirect":
            await self._send(writer, 302, b"", f"Location: http://127.0.0.1:{self.port}/admin/steal\r\n")
            return
        if mode == "garbage":
            await self._send(writer, 200, b"\x00\xff{not json")
            return
        if mode == "drip":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nConnection: close\r\n\r\n"
                b'{"resourceType":"Bundle","type":"searchset","entry":['
            )
            await writer.drain()
            stop = time.monotonic() + self.drip_seconds
            while time.monotonic() < stop:
                if writer.is_closing() or reader.at_eof():
                    return
                writer.write(b" ")
                await writer.drain()
                self.sent_bytes += 1
                await asyncio.sleep(self.drip_interval)
            writer.write(b"]}")
            await writer.drain()
            return
        if mode == "huge":
            entry = json.dumps(
                {
                    "resource": {
                        "resourceType": "Observation",
                        "id": "o",
                        "status": "final",
                        "code": {"text": "x" * 900},
                    }
                }
            ).encode()
            count = max(1, self.huge_bytes // (len(entry) + 1))
            head = b'{"resourceType":"Bundle","type":"searchset","entry":['
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nConnection: close\r\n\r\n" + head
            )
            for i in range(count):
                if writer.is_closing() or reader.at_eof():
                    return  # the client stopped reading
                writer.write(entry + (b"," if i < count - 1 else b""))
                self.sent_bytes += len(entry) + 1
                if i % 64 == 0:
                    await writer.drain()
            writer.write(b"]}")
            await writer.drain()
            return
        if rest.startswith("Patient/"):
            pid = unquote(rest.split("/", 1)[1])
            await self._send(
                writer,
                200,
                json.dumps(
                    {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1970-01-01"}
                ).encode(),
            )
            return
        link = {
            "dotdot": f"{base}/../admin/{rest}?page=2",
            "ctl": f"{base}/{rest}?page=\x01\u00e9",
            "elsewhere": f"http://127.0.0.2:{self.port}/ok/fhir/{rest}?page=2",
        }.get(mode)
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": []}
        if link:
            bundle["link"] = [{"relation": "next", "url": link}]
        await self._send(writer, 200, json.dumps(bundle).encode())
