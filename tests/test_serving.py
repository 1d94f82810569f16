"""`clinic serve` with several workers binds its own socket so that connections get
TCP_NODELAY (clinic/serving.py; Kludex/uvicorn#3149)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from clinic import serving


async def _nodelay_of_accepted(listener: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(accepted, 5)
        writer.close()
    return value


async def test_connections_to_the_shared_socket_get_tcp_nodelay() -> None:
    listener = serving.listening_socket("127.0.0.1", 0, 16)
    assert await _nodelay_of_accepted(listener) != 0


async def test_a_socket_bound_as_uvicorn_binds_it_would_not() -> None:
    # The reason for serving.listening_socket: protocol 0, as uvicorn's bind_socket makes.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    assert await _nodelay_of_accepted(listener) == 0


async def test_each_worker_may_listen_on_the_same_port_with_a_socket_of_its_own() -> None:
    # SO_REUSEPORT (clinic/serving.py SocketPerWorker): the kernel spreads connections
    # over the workers' sockets, and each accepted connection still gets TCP_NODELAY.
    first = serving.listening_socket("127.0.0.1", 0, 16, reuse_port=True)
    port = first.getsockname()[1]
    second = serving.listening_socket("127.0.0.1", port, 16, reuse_port=True)
    accepted: asyncio.Queue[int] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.put_nowait(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    servers = [await asyncio.start_server(handle, sock=s) for s in (first, second)]
    try:
        assert second.getsockname()[1] == port
        for _ in range(4):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(accepted.get(), 5) != 0
            writer.close()
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


def test_without_reuse_port_a_second_socket_cannot_have_the_port() -> None:
    first = serving.listening_socket("127.0.0.1", 0, 16)
    try:
        with pytest.raises(OSError, match="in use"):
            serving.listening_socket("127.0.0.1", first.getsockname()[1], 16)
    finally:
        first.close()
