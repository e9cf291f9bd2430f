"""``demo --geography NAME``: the same segments direct and through the edge, timed.

A `LocalStack` with a
`Geography` puts long links on the three paths
(encoder → edge, edge → origin, encoder → origin). The same segments then go to the
origin three ways, and each one's time to origin (from the start of the upload to
the origin's acknowledgement) is printed beside the floor, the least time any client
could take on that geography (one round trip of the shorter path plus the uplink's
serialisation):

* directly, a new connection per segment (what ffmpeg does with
  ``-http_persistent 0``): each pays the TCP and TLS handshakes across the ocean;
* directly, on a kept-alive connection (SigV4 with the account's credentials);
* through the ingest edge with this package's client: handshakes end at the nearby
  edge, and the edge keeps its connections to the origin warm.

The functions here are also what ``benchmarks/acceleration.py`` and the tests use.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest.transports.botocore import reaches_directly
from mediastore_ingest.origins import get_origin

if TYPE_CHECKING:
    from mediastore_ingest.ingest import IngestClient
    from mediastore_ingest.testing import Geography, LocalStack

__all__ = [
    "PATHS",
    "SEGMENT_SIZE",
    "direct_client",
    "measure_paths",
    "new_connection_times",
    "percentile",
    "run_geography",
    "time_to_origin",
]

#: 375 KB: one second of 3 Mbit/s video, the segment the issue measures.
SEGMENT_SIZE = 375_000

#: The ways to the origin, in the order they are shown.
PATHS: tuple[tuple[str, str], ...] = (
    ("direct_new_connection", "direct, new connection"),
    ("direct_keep_alive", "direct, keep-alive"),
    ("edge", "through the edge"),
)


def direct_client(stack: LocalStack) -> IngestClient:
    """A SigV4 client for the stack's origin through the ``encoder_origin`` link
    (`LocalStack.direct_origin_endpoint`), with the
    local container's default credentials."""
    from botocore.session import get_session

    from mediastore_ingest.ingest import IngestClient, IngestConfig
    from mediastore_ingest.testing import DEFAULT_CREDENTIALS

    session = get_session()
    access_key, secret_key = next(iter(DEFAULT_CREDENTIALS.items()))
    session.set_credentials(access_key, secret_key)
    return IngestClient.direct(
        stack.direct_origin_endpoint,
        session=session,
        region_name=stack.container.region,
        config=IngestConfig(ca_bundle=stack.ca_bundle),
    )


def time_to_origin(
    put: Callable[[str, bytes], object], paths: Iterable[str], data: bytes
) -> list[float]:
    """Seconds each ``put(path, data)`` took, in order."""
    times = []
    for path in paths:
        start = time.perf_counter()
        put(path, data)
        times.append(time.perf_counter() - start)
    return times


def new_connection_times(stack: LocalStack, paths: Iterable[str], data: bytes) -> list[float]:
    """Seconds each upload took on a connection of its own, straight to the origin
    (a new client per segment, made before its clock starts: only the connection and
    the upload are timed)."""
    times = []
    for path in paths:
        with direct_client(stack) as client:
            times += time_to_origin(client.put, [path], data)
    return times


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``, nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure_paths(stack: LocalStack, segments: int, data: bytes) -> dict[str, list[float]]:
    """Time ``segments`` uploads of ``data`` on each of `PATHS`."""
    names = [f"live/geo/{{}}/seg{n}.ts" for n in range(segments)]
    times: dict[str, list[float]] = {}

    times["direct_new_connection"] = new_connection_times(
        stack, (n.format("a") for n in names), data
    )
    with direct_client(stack) as client:
        times["direct_keep_alive"] = time_to_origin(
            client.put, (n.format("b") for n in names), data
        )
    with stack.ingest_client() as client:
        times["edge"] = time_to_origin(client.put, (n.format("c") for n in names), data)
    return times


def _report(geography: Geography, times: dict[str, list[float]], size: int) -> dict[str, Any]:
    floor = geography.floor(size)
    return {
        "geography": geography.name,
        "description": geography.description,
        "encoder_edge_rtt_ms": geography.encoder_edge_rtt * 1000,
        "edge_origin_rtt_ms": geography.edge_origin_rtt * 1000,
        "encoder_origin_rtt_ms": geography.encoder_origin_rtt * 1000,
        "segment_size": size,
        "floor_ms": round(floor * 1000, 1),
        "segments": [
            {key: round(values[n] * 1000, 1) for key, values in times.items()}
            for n in range(len(times["edge"]))
        ],
        "median_ms": {key: round(statistics.median(v) * 1000, 1) for key, v in times.items()},
        "median_to_floor": {
            key: round(statistics.median(v) / floor, 2) for key, v in times.items()
        },
    }


def format_report(report: dict[str, Any]) -> str:
    """The per-segment table of a geography run."""
    lines = [
        f"Geography {report['geography']}: {report['description']}",
        f"  round trips: encoder -> edge {report['encoder_edge_rtt_ms']:g} ms, edge -> origin "
        f"{report['edge_origin_rtt_ms']:g} ms, encoder -> origin "
        f"{report['encoder_origin_rtt_ms']:g} ms",
        f"  time to origin of {len(report['segments'])} segments of {report['segment_size']} "
        "bytes, in ms (floor: the least any client can take)",
        "",
    ]
    header = ["segment", *(label for _, label in PATHS), "floor"]
    rows = [
        [str(n + 1), *(f"{segment[key]:.1f}" for key, _ in PATHS), f"{report['floor_ms']:.1f}"]
        for n, segment in enumerate(report["segments"])
    ]
    rows.append(
        ["median", *(f"{report['median_ms'][key]:.1f}" for key, _ in PATHS),
         f"{report['floor_ms']:.1f}"]
    )
    rows.append(
        ["x floor", *(f"{report['median_to_floor'][key]:.2f}" for key, _ in PATHS), "1.00"]
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def run_geography(args: argparse.Namespace) -> int:
    """``demo --geography NAME``: print (or ``--json``) the per-segment times."""
    from mediastore_ingest.testing import Geography, LocalStack

    geography = Geography.named(args.geography)
    if not reaches_directly(args.origin):
        raise InvalidInputError(
            "--geography compares direct uploads (SigV4 to the origin's data plane) with "
            f"the edge, and direct mode cannot reach {get_origin(args.origin).label}: use "
            "it with --origin mediastore"
        )
    if not 1 <= args.segments <= 60:
        raise InvalidInputError("--segments must be between 1 and 60")
    data = os.urandom(SEGMENT_SIZE)
    with LocalStack(geography=geography, key_algorithm=args.key_algorithm) as stack:
        report = _report(geography, measure_paths(stack, args.segments, data), SEGMENT_SIZE)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(format_report(report))
    return 0
