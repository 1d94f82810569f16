"""A diagnostic launcher: serve an ASGI factory exactly as `clinic serve --workers 2` does,
except that the listening socket is made with IPPROTO_TCP.

uvicorn's multi-worker path binds its socket with proto 0, accepted connections inherit
it, and asyncio then never sets TCP_NODELAY: every keep-alive response written in two parts
waits for the client's delayed ACK, about 40 ms on Linux (Kludex/uvicorn#3149). Rows
marked "TCP_NODELAY" show what the app and B_json do without that stall.

    python -m bench.nodelay <module:factory> <port>
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

WORKERS = 2


def listening_socket(port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def main(factory: str, port: int) -> None:
    # The options `clinic serve` passes to uvicorn.run (clinic/cli.py).
    config = uvicorn.Config(
        factory,
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=WORKERS,
        proxy_headers=True,
        access_log=False,
        log_config=None,
    )
    Multiprocess(config, sockets=[listening_socket(port, config.backlog)]).run()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
