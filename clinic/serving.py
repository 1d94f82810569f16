"""Serving the app with uvicorn, in one process or several sharing one socket.

uvicorn's multi-worker path binds its socket with protocol 0; accepted connections inherit
it, and asyncio only sets TCP_NODELAY on sockets whose protocol is IPPROTO_TCP. Without it
every keep-alive response written in two parts waits for the client's delayed ACK, about
40 ms on Linux (Kludex/uvicorn#3149). So with several workers we bind the socket ourselves.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP_FACTORY = "clinic.app:create_app_from_env"


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


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP listening socket whose accepted connections get TCP_NODELAY."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(address)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def serve(host: str, port: int, workers: int, factory: str = APP_FACTORY) -> None:
    settings = config(host, port, workers, factory)
    if workers == 1:
        # One process: asyncio creates the socket itself, with TCP_NODELAY.
        uvicorn.Server(settings).run()
        return
    sock = listening_socket(host, port, settings.backlog)
    try:
        Multiprocess(settings, sockets=[sock]).run()
    finally:
        sock.close()
