"""A launcher for the baselines: serve any ASGI factory exactly as `clinic serve --workers 2`
does (clinic/serving.py), so that B_json and B_sql run under the same socket set-up as the app.

    python -m bench.nodelay <module:factory> <port>
"""

from __future__ import annotations

import sys

from clinic import serving

WORKERS = 2


def main(factory: str, port: int) -> None:
    serving.serve("127.0.0.1", port, WORKERS, factory)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
