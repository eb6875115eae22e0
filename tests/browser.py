"""One headless Debian Chromium for the browser tests (the checklist, the documentation form)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium driver with a throwaway profile, closed and cleaned up afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="idds-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1500",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def serve(app: object, deadline: float = 120.0) -> Iterator[int]:
    """An ASGI app under uvicorn in a thread of this process, on a loopback port of its own.

    The socket is bound here and handed to uvicorn, so no other process can take the port
    between choosing it and listening on it; the caller gets the port once uvicorn says it has
    started (its lifespan done, the socket served), however slow the machine, and a clear error
    if it stopped or did not start within `deadline` seconds."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    until = time.monotonic() + deadline
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the service stopped before it started")
            if time.monotonic() > until:
                raise RuntimeError(f"the service did not start in {deadline:g} s")
            time.sleep(0.05)  # polling a condition, not waiting a fixed time
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
