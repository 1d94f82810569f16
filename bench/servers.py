"""Starting and stopping the servers under test (the app under `clinic serve --workers 2`,
the baselines under uvicorn), waiting for them to answer, and their memory from /proc."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx2

from clinic.settings import PROJECT_ROOT

WORKERS = 2
SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789"
STARTUP_SECONDS = 60.0
# The app's lifespan gives its outbox worker up to 10 s to finish.
SHUTDOWN_SECONDS = 20.0


@dataclass
class Server:
    name: str
    base_url: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def app_env(database_url: str, base_url: str, var_dir: Path) -> dict[str, str]:
    """development, not production: production insists on https. The secret key is set so
    that nothing is written under the project's var/."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env.update(
        CLINIC_DATABASE_URL=database_url,
        CLINIC_ENV="development",
        CLINIC_SECRET_KEY=SECRET_KEY,
        CLINIC_VAR_DIR=str(var_dir),
        CLINIC_BASE_URL=base_url,
        CLINIC_TIMEZONE="America/New_York",
        CLINIC_CURRENCY="usd",
        PYTHONUNBUFFERED="1",
    )
    return env


async def start_app(database_url: str, work_dir: Path) -> Server:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    clinic = str(Path(sys.executable).parent / "clinic")
    command = [
        clinic,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
    ]
    env = app_env(database_url, base_url, work_dir / "var")
    return await _start("app", command, env, base_url, "/healthz", work_dir)


async def start_baselines(database_url: str, work_dir: Path) -> Server:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Served as `clinic serve` serves the app (clinic/serving.py), so that the baselines
    # and the app differ only in what the endpoint does.
    command = [sys.executable, "-m", "bench.serve", "bench.baselines:create_app", str(port)]
    return await _start(
        "baselines", command, _baseline_env(database_url), base_url, "/json", work_dir
    )


def _baseline_env(database_url: str) -> dict[str, str]:
    return {**os.environ, "BENCH_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}


async def _start(
    name: str, command: list[str], env: dict[str, str], base_url: str, probe: str, work_dir: Path
) -> Server:
    log_path = work_dir / f"{name}.log"
    with log_path.open("ab") as log:
        # A session of its own, so that stop() can reach the worker processes too.
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, base_url, process, log_path)
    try:
        await _wait_until_ready(server, probe)
    except RuntimeError:
        await stop(server)
        raise
    return server


async def _wait_until_ready(server: Server, probe: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_SECONDS
    async with httpx2.AsyncClient(base_url=server.base_url, timeout=2.0) as http:
        while True:
            if server.process.returncode is not None:
                raise RuntimeError(f"{server.name} exited while starting: {tail(server)}")
            try:
                if (await http.get(probe)).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if loop.time() > deadline:
                raise RuntimeError(f"{server.name} did not answer {probe}: {tail(server)}")
            await asyncio.sleep(0.2)


async def stop(server: Server) -> None:
    process = server.process
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=SHUTDOWN_SECONDS)
        except TimeoutError:
            # Only the session this server was started in.
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


def tail(server: Server, lines: int = 15) -> str:
    text = server.log_path.read_text(encoding="utf-8", errors="replace")
    return "\n".join(line[:500] for line in text.splitlines()[-lines:])


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process we can see."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    parents = _parents()
    found = [pid]
    for candidate in found:
        found.extend(child for child, parent in parents.items() if parent == candidate)
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pids(running: list[Server | None]) -> list[int]:
    return [pid for server in running if server is not None for pid in descendants(server.pid)]


def _established(port: int) -> set[str]:
    """Socket inodes of the established TCP connections to `port` on this machine."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    return inodes


def connections(server: Server) -> list[int]:
    """How many client connections each worker process holds, busiest first. The workers
    share one listening socket, so the kernel and asyncio decide who gets what."""
    port = int(server.base_url.rsplit(":", 1)[1])
    established = _established(port)
    counts = []
    for pid in descendants(server.pid)[1:]:
        held = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in established:
                    held += 1
        except OSError:
            continue
        counts.append(held)
    return sorted((n for n in counts if n), reverse=True)


def memory(server: Server) -> dict[str, int]:
    """Resident memory (KiB) of the server's process tree: the total and per process."""
    per_process = {pid: rss_kib(pid) for pid in descendants(server.pid)}
    return {"total_kib": sum(per_process.values()), **{str(k): v for k, v in per_process.items()}}
