"""What the tests that serve the real app in a subprocess share (tests/browser, tests/live):
a free port, a consistent copy of a SQLite database, waiting for /healthz, and stopping."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from pathlib import Path

import httpx2

STARTUP_SECONDS = 30.0
# uvicorn waits for the lifespan, which gives the outbox worker up to 10 s to finish.
SHUTDOWN_SECONDS = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def copy_sqlite(source: Path, target: Path) -> None:
    # The backup API copies a consistent database whatever its journal mode.
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


async def wait_until_healthy(base_url: str, process: asyncio.subprocess.Process) -> None:
    """Until `base_url`/healthz answers 200; RuntimeError if the process exits first or
    STARTUP_SECONDS pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_SECONDS
    async with httpx2.AsyncClient(timeout=2.0, trust_env=False) as http:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"the server exited with {process.returncode} while starting")
            try:
                if (await http.get(f"{base_url}/healthz")).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if loop.time() > deadline:
                raise RuntimeError(f"/healthz did not answer 200 within {STARTUP_SECONDS:.0f} s")
            await asyncio.sleep(0.05)


async def stop(process: asyncio.subprocess.Process) -> None:
    """Terminate, then kill after SHUTDOWN_SECONDS."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=SHUTDOWN_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
