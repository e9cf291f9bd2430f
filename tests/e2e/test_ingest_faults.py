"""The lossless-ingest proof: 300 uploads through an edge that fails ~15% of requests.

Every object must end up in the container byte-identical (SHA-256), nothing lost, no
stray or duplicated object, and the attempts must be reported. No real sleeping: the
client's sleeper records the back-off delays instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mediastore_ingest import IngestClient, IngestConfig, PutRequest, RetryPolicy
from mediastore_ingest.testing import FaultPlan, LocalStack

UPLOADS = 300


def _body(i: int) -> bytes:
    # distinct, incompressible-looking content of varied sizes (1 KiB .. ~70 KiB)
    seed = hashlib.sha256(i.to_bytes(4, "big")).digest()
    return seed * (32 + (i * 37) % 2200)


def _chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_300_uploads_through_faults_lose_nothing(tmp_path: Path) -> None:
    plan = FaultPlan(seed=2026, failure_rate=0.15, delay=0.005)
    delays: list[float] = []
    events: list[str] = []

    class Counter:
        def on_done(self, **kwargs: Any) -> None:
            events.append(str(kwargs.get("path", "")))

    expected: dict[str, bytes] = {}
    items: list[PutRequest | tuple[str, Any]] = []
    for i in range(UPLOADS):
        data = _body(i)
        path = f"live/ch1/seg{i:04d}.ts"
        expected[path] = data
        kind = i % 3
        if kind == 0:
            items.append((path, data))
        elif kind == 1:
            file = tmp_path / f"seg{i}.ts"
            file.write_bytes(data)
            items.append((path, file))
        else:
            items.append((path, _chunks(data)))

    with LocalStack(faults=plan) as stack:
        client = IngestClient(
            stack.ingest_base_url,
            signer=stack.signer,
            config=IngestConfig(retry=RetryPolicy(max_attempts=12)),
            sleep=delays.append,
            subscribers=[Counter()],
        )
        outcomes = client.put_many(items, max_concurrency=8)

        failures = [(o.path, o.error) for o in outcomes if not o.ok]
        assert failures == []
        assert [o.path for o in outcomes] == list(expected)

        # Byte-identical, by SHA-256, and nothing else in the container.
        assert stack.container.paths() == sorted(expected)
        for path, data in expected.items():
            stored = stack.container.read(path)
            assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest(), path

        # The origin's own checksum agrees with what the client reports.
        for outcome in outcomes:
            result = outcome.unwrap()
            if result.content_sha256 is not None:
                assert result.content_sha256 == hashlib.sha256(expected[result.path]).hexdigest()

        # Faults really happened, were retried, and attempts are reported per object.
        injected = stack.ingest_edge.faults_injected
        errors = sum(n for kind, n in injected.items() if kind != "delay")
        assert errors >= 0.08 * UPLOADS, injected
        attempts = [o.unwrap().attempts for o in outcomes]
        assert sum(a - 1 for a in attempts) == len(delays) > 0
        assert max(attempts) > 1
        assert len(events) == UPLOADS
