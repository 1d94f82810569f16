"""Serving the app with uvicorn, in one process or several, each worker with a listening
socket of its own on the one port.

uvicorn's multi-worker path binds its socket with protocol 0; accepted connections inherit
it, and asyncio only sets TCP_NODELAY on sockets whose protocol is IPPROTO_TCP. Without it
every keep-alive response written in two parts waits for the client's delayed ACK, about
40 ms on Linux (Kludex/uvicorn#3149). So with several workers we bind the sockets ourselves.

And one socket per worker (SO_REUSEPORT), where the platform has it: with one shared
socket, asyncio's accept loop lets whichever worker wakes first take a whole burst of new
connections (up to the backlog at once), and under 64 connections the benchmark found one
worker holding 48, or all 64, while the other idled. The kernel spreads connections over
SO_REUSEPORT sockets by their addresses instead.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

APP_FACTORY = "clinic.app:create_app_from_env"
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")
log = logging.getLogger("uvicorn.error")


def config(host: str, port: int, workers: int, factory: str = APP_FACTORY) -> uvicorn.Config:
    return uvicorn.Config(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Behind a reverse proxy on the same host (README, deployment): trust its
        # X-Forwarded-For and X-Forwarded-Proto; uvicorn trusts 127.0.0.1 only by default.
        proxy_headers=True,
        access_log=False,
        log_config=None,
    )


def listening_socket(
    host: str, port: int, backlog: int, *, reuse_port: bool = False
) -> socket.socket:
    """A TCP listening socket whose accepted connections get TCP_NODELAY; with
    `reuse_port`, one of several on the same port."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class SocketPerWorker(Multiprocess):
    """uvicorn's supervisor (restarts, SIGHUP, SIGTTIN/SIGTTOU), each worker slot with its
    own socket: a worker that dies or is replaced hands its slot's socket to the next, so
    no socket is ever left without a worker to accept on it."""

    def __init__(self, settings: uvicorn.Config, open_socket: Callable[[], socket.socket]):
        super().__init__(settings, sockets=[])
        self._open_socket = open_socket
        self._slots: list[socket.socket] = []

    def _process(self, slot: int) -> Process:
        while len(self._slots) <= slot:
            self._slots.append(self._open_socket())
        return Process(self.config, [self._slots[slot]])

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            process = self._process(slot)
            process.start()
            self.processes.append(process)

    def restart_all(self) -> None:
        for slot, old_process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new_process = self._process(slot)
            new_process.start()
            timeout = self.config.timeout_worker_healthcheck
            if not new_process.wait_until_ready(timeout, self.should_exit):
                new_process.kill()
                new_process.join()
                log.error("A new worker was not ready in time: the restart stopped.")
                return
            old_process.terminate()
            old_process.join()
            self.processes[slot] = new_process

    def keep_subprocess_alive(self) -> None:
        # The parent's loop (uvicorn's own), with each replacement on the dead one's socket.
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("Worker %s failed to start: stopping.", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info("Worker %s died: starting another on its socket.", process.pid)
            replacement = self._process(slot)
            replacement.start()
            self.processes[slot] = replacement

    def handle_ttin(self) -> None:
        self.processes_num += 1
        process = self._process(len(self.processes))
        process.start()
        self.processes.append(process)

    def handle_ttou(self) -> None:
        if self.processes_num <= 1:
            return
        self.processes_num -= 1
        process = self.processes.pop()
        process.terminate()
        process.join()
        # Nobody accepts on its socket any more: close it, or the kernel keeps sending it
        # a share of the new connections.
        self._slots.pop().close()

    def close(self) -> None:
        for sock in self._slots:
            sock.close()


def serve(host: str, port: int, workers: int, factory: str = APP_FACTORY) -> None:
    settings = config(host, port, workers, factory)
    if workers == 1:
        # One process: asyncio creates the socket itself, with TCP_NODELAY.
        uvicorn.Server(settings).run()
        return
    if REUSE_PORT:
        supervisor = SocketPerWorker(
            settings, lambda: listening_socket(host, port, settings.backlog, reuse_port=True)
        )
        try:
            supervisor.run()
        finally:
            supervisor.close()
        return
    sock = listening_socket(host, port, settings.backlog)
    try:
        Multiprocess(settings, sockets=[sock]).run()
    finally:
        sock.close()
