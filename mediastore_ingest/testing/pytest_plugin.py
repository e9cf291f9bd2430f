"""pytest fixtures for code that publishes through CloudFront into MediaStore or S3.

Installed with the package (entry point ``pytest11: mediastore_ingest``), so the
fixtures are available in every test without an import. Each runs on loopback only.

``mediastore_stack``
    A running ``LocalStack`` (function scope): a
    signing key, an ingest secret and a playback secret, the container policy, an
    HTTPS ``LocalContainer`` and two
    ``LocalEdge`` "distributions" (ingest and
    playback). Stopped after the test.
``mediastore_stack_session``
    The same, started once per test session and shared (cheaper; tests see each
    other's objects, so use distinct paths or call ``stack.container.clear()``).
``mediastore_stack_options``
    The keyword arguments given to ``LocalStack`` by
    ``mediastore_stack`` (default: none). Override it in a ``conftest.py`` or a test
    module to inject faults, pick the key type or the origin::

        @pytest.fixture
        def mediastore_stack_options():
            return {"faults": FaultPlan(seed=7, failure_rate=0.2), "key_algorithm": "rsa"}

    A parametrised override runs every test once per origin (MediaStore, then an S3
    bucket behind Origin Access Control)::

        @pytest.fixture(params=["mediastore", "s3"])
        def mediastore_stack_options(request):
            return {"origin": request.param}

``mediastore_signer``
    The stack's ``UrlSigner`` (trusted by both edges).
``mediastore_key_pair``
    The stack's ``KeyPair``.
``mediastore_secret``
    The ``IngestSecret`` the ingest edge sends as
    ``User-Agent`` to the container.
``mediastore_container_policy``
    The ``ContainerPolicy`` the container
    enforces.
``mediastore_origin``
    What the edges forward to, whichever the origin: the
    ``LocalContainer`` or the
    ``LocalBucket`` (both have ``.read(path)``, what
    the origin really stored; ``.paths()``; ``.requests``, what it received).
``mediastore_container``
    The ``LocalContainer`` of a MediaStore stack.
``mediastore_bucket``
    The ``LocalBucket`` of an ``origin="s3"`` stack.
``mediastore_ingest_edge`` / ``mediastore_playback_edge``
    The two ``LocalEdge`` servers (``.base_url``,
    ``.requests``, ``.forwarded``, ``.faults_injected``).

A failed comparison of a header value that may be a credential (from ``.requests`` or
``.forwarded``) is explained without showing the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from mediastore_ingest._internal.redact import Redacted

if TYPE_CHECKING:
    from mediastore_ingest.iam.document import ContainerPolicy
    from mediastore_ingest.iam.secret import IngestSecret
    from mediastore_ingest.signing.keys import KeyPair
    from mediastore_ingest.signing.signer import UrlSigner
    from mediastore_ingest.testing._edge import LocalEdge
    from mediastore_ingest.testing._mediastore import LocalContainer
    from mediastore_ingest.testing._s3 import LocalBucket
    from mediastore_ingest.testing._stack import LocalStack

__all__ = [
    "mediastore_bucket",
    "mediastore_container",
    "mediastore_container_policy",
    "mediastore_ingest_edge",
    "mediastore_key_pair",
    "mediastore_origin",
    "mediastore_playback_edge",
    "mediastore_secret",
    "mediastore_signer",
    "mediastore_stack",
    "mediastore_stack_options",
    "mediastore_stack_session",
]


@pytest.fixture
def mediastore_stack_options() -> dict[str, Any]:
    """Keyword arguments for the ``mediastore_stack`` fixture's ``LocalStack``."""
    return {}


@pytest.fixture
def mediastore_stack(mediastore_stack_options: dict[str, Any]) -> Iterator[LocalStack]:
    """A running ``LocalStack``, stopped after the test."""
    from mediastore_ingest.testing._stack import LocalStack

    with LocalStack(**mediastore_stack_options) as stack:
        yield stack


@pytest.fixture(scope="session")
def mediastore_stack_session() -> Iterator[LocalStack]:
    """One ``LocalStack`` shared by the whole session."""
    from mediastore_ingest.testing._stack import LocalStack

    with LocalStack() as stack:
        yield stack


@pytest.fixture
def mediastore_signer(mediastore_stack: LocalStack) -> UrlSigner:
    """The stack's signer (its key id is in both edges' key group)."""
    return mediastore_stack.signer


@pytest.fixture
def mediastore_key_pair(mediastore_stack: LocalStack) -> KeyPair:
    """The stack's signing key pair."""
    return mediastore_stack.key_pair


@pytest.fixture
def mediastore_secret(mediastore_stack: LocalStack) -> IngestSecret:
    """The ingest secret the ingest edge injects as ``User-Agent``."""
    return mediastore_stack.secret


@pytest.fixture
def mediastore_container_policy(mediastore_stack: LocalStack) -> ContainerPolicy:
    """The container policy the local container enforces."""
    return mediastore_stack.container_policy


@pytest.fixture
def mediastore_origin(mediastore_stack: LocalStack) -> LocalContainer | LocalBucket:
    """The stack's origin: its container, or its bucket for ``origin="s3"``."""
    return mediastore_stack.origin


@pytest.fixture
def mediastore_container(mediastore_stack: LocalStack) -> LocalContainer:
    """The stack's running ``LocalContainer``
    (a MediaStore stack; an S3 stack raises ``LocalStackError``)."""
    return mediastore_stack.container


@pytest.fixture
def mediastore_bucket(mediastore_stack: LocalStack) -> LocalBucket:
    """The stack's running ``LocalBucket``
    (``origin="s3"``; a MediaStore stack raises ``LocalStackError``)."""
    return mediastore_stack.bucket


@pytest.fixture
def mediastore_ingest_edge(mediastore_stack: LocalStack) -> LocalEdge:
    """The ingest "distribution" (all methods, signatures required, faults if any)."""
    return mediastore_stack.ingest_edge


@pytest.fixture
def mediastore_playback_edge(mediastore_stack: LocalStack) -> LocalEdge:
    """The playback "distribution" (GET/HEAD only, its own secret)."""
    return mediastore_stack.playback_edge


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """Explain a failed comparison of a header value that may be a credential (a
    ``Redacted`` value from ``.requests`` or ``.forwarded``) without showing it.

    pytest's own explanation of two strings is a diff of their text, which would
    print an ingest secret or a SigV4 signature into the test log.
    """
    if not isinstance(left, Redacted) and not isinstance(right, Redacted):
        return None
    return [
        f"{left!r} {op} {right!r}",
        "(a header value that may be a credential is not shown; print it yourself "
        "if you must see it)",
    ]
