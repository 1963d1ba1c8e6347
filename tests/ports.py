"""Free TCP ports for the servers tests start as subprocesses, disjoint between pytest-xdist workers.

Asking the kernel for port 0 and closing the socket leaves the port free for anyone: two workers asking
at once may get the same one, and then one `relief serve` fails to bind while the other's /readyz
answers for both (seen: a test wrote to a database the other worker's server had migrated). Each
worker takes its ports from a range of its own, checked free by binding.
"""

from __future__ import annotations

import os
import random
import socket

_BASE, _SPAN = 20_000, 4_000  # below Linux's ephemeral range (32768+), where the kernel picks port 0's


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    low = _BASE + (int(worker) if worker.isdigit() else 0) % 3 * _SPAN
    for _ in range(200):
        port = random.randrange(low, low + _SPAN)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{low + _SPAN}")
