"""Hostile clients against a local container: slowloris heads and dripping bodies do
not keep a legitimate encoder out; the deadlines cut them and the caps bound the
threads they can take.

The deadlines are short here (a second or two) so the tests take seconds; the
defaults (ServerLimits) are the same rules, ten to twenty times longer.
"""

from __future__ import annotations

import contextlib
import hashlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import urllib3

from mediastore_ingest.testing import LocalContainer, ServerLimits

OPEN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Open",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "mediastore:*",
            "Resource": "arn:aws:mediastore:us-west-2:111122223333:container/live/*",
        }
    ],
}

SHORT = {"header_timeout": 4.0, "body_grace": 2.0, "body_min_rate": 2000.0, "idle_timeout": 5.0}
QUICK = {"header_timeout": 1.5, "body_grace": 1.0, "body_min_rate": 2000.0, "idle_timeout": 5.0}


class Attack:
    """``slowloris`` connections sending a head a byte at a time and ``dripping`` ones
    sending a body a byte at a time, all driven by one thread; each socket's end (the
    server closing it) is noted."""

    def __init__(self, port: int, *, slowloris: int, dripping: int) -> None:
        self.port = port
        self.heads = [b"PUT /live/loris.ts HTTP/1.1\r\nHost: x\r\nX-Drip: "] * slowloris
        self.heads += [b"PUT /live/drip.ts HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 1000000\r\n\r\n"] * dripping
        self.socks: list[socket.socket] = []
        self.closed_after: dict[int, float] = {}
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drive, daemon=True)

    def __enter__(self) -> Attack:
        self.started = time.monotonic()
        for head in self.heads:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            try:
                sock.sendall(head)
            except OSError:
                self.refused += 1
            sock.setblocking(False)
            self.socks.append(sock)
        self._thread.start()
        return self

    def _drive(self) -> None:
        selector = selectors.DefaultSelector()
        for index, sock in enumerate(self.socks):
            selector.register(sock, selectors.EVENT_READ, index)
        while not self._stop.is_set() and len(self.closed_after) < len(self.socks):
            for key, _ in selector.select(timeout=0.25):
                index = key.data
                try:
                    data = key.fileobj.recv(4096)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # an answer (408) may come first; the end is what counts
                    self.closed_after[index] = time.monotonic() - self.started
                    selector.unregister(key.fileobj)
            for index, sock in enumerate(self.socks):
                if index not in self.closed_after:
                    with contextlib.suppress(OSError):
                        sock.send(b"x")  # one more byte, every quarter second
        selector.close()

    def all_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.closed_after) == len(self.socks):
                return True
            time.sleep(0.05)
        return False

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.socks:
            sock.close()


@pytest.fixture
def pool() -> Iterator[urllib3.PoolManager]:
    manager = urllib3.PoolManager(retries=urllib3.Retry(total=20, connect=20, read=20,
                                                        backoff_factor=0.05))
    yield manager
    manager.clear()


def _legitimate_puts(container: LocalContainer, pool: urllib3.PoolManager, count: int,
                     results: dict[str, int]) -> None:
    for i in range(count):
        body = hashlib.sha256(str(i).encode()).digest() * 2048  # 64 KiB
        response = pool.request("PUT", f"{container.endpoint}/live/seg{i}.ts", body=body,
                                timeout=urllib3.Timeout(connect=5, read=10))
        results[f"live/seg{i}.ts"] = response.status
        time.sleep(0.05)


@pytest.mark.slow
def test_slowloris_and_dripping_bodies_do_not_keep_an_encoder_out(
    pool: urllib3.PoolManager,
) -> None:
    limits = ServerLimits(**SHORT, max_connections=1024, max_connections_per_peer=1024)
    with LocalContainer(tls=False, policy=OPEN, limits=limits) as container, Attack(
        container.port, slowloris=300, dripping=64
    ) as attack:
        results: dict[str, int] = {}
        _legitimate_puts(container, pool, 30, results)  # while the attack is on
        still_open = len(attack.socks) - len(attack.closed_after)
        assert all(status == 200 for status in results.values()), results
        assert still_open >= 350  # the PUTs got through beside the attack, not after it
        for path in results:
            i = int(path.removeprefix("live/seg").removesuffix(".ts"))
            assert container.read(path) == hashlib.sha256(str(i).encode()).digest() * 2048
        # the deadlines cut every hostile connection (4 s heads, 2 s + rate bodies)
        assert attack.all_closed(timeout=30), len(attack.closed_after)
        assert max(attack.closed_after.values()) < 30
        counters = container.counters()
        assert counters["header_timeout"] >= 300
        assert counters["body_timeout"] >= 64
        assert sorted(container.paths()) == sorted(results)  # nothing of theirs stored


@pytest.mark.slow
def test_under_a_small_cap_the_attack_takes_no_more_threads_and_passes(
    pool: urllib3.PoolManager,
) -> None:
    # 100 connections at most: the attack fills them, the rest is refused on accept;
    # the encoder's connections are refused too until the deadlines free room, and
    # its retries then get through.
    limits = ServerLimits(**QUICK, max_connections=100, max_connections_per_peer=100)
    with LocalContainer(tls=False, policy=OPEN, limits=limits) as container:
        threads_before = threading.active_count()
        peak = [0]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                peak[0] = max(peak[0], container.active_connections())
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with Attack(container.port, slowloris=300, dripping=64) as attack:
            results: dict[str, int] = {}
            grown = threading.active_count() - threads_before
            _legitimate_puts(container, pool, 10, results)
            assert set(results.values()) == {200}
            assert attack.all_closed(timeout=30)
        sampling.set()
        sampler.join(5)
        assert peak[0] <= 100
        assert grown <= 100 + 5  # the attack's driver thread, the sampler
        assert container.counters()["refused.too_many_connections"] >= 200
