"""urllib3's DEBUG request lines never print a signed URL's Signature or Policy.

The client's default transport puts the package's redacting filter on urllib3's
loggers; these tests turn DEBUG logging on, PUT through the local ingest edge (real
sockets) and read what was logged.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from mediastore_ingest import CustomPolicy, IngestClient, IngestConfig
from mediastore_ingest._internal.redact import RedactingFilter
from mediastore_ingest.ingest import Request, Response, Urllib3Transport
from mediastore_ingest.testing import LocalStack


class RecordingTransport(Urllib3Transport):
    """The default transport, keeping the URLs it sent (with their signatures)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.urls: list[str] = []

    def handle(self, request: Request) -> Response:
        self.urls.append(request.url)
        return super().handle(request)


def _secrets(urls: list[str]) -> set[str]:
    values = set()
    for url in urls:
        query = parse_qs(urlsplit(url).query)
        for name in ("Signature", "Policy"):
            values.update(query.get(name, []))
    return values


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("wildcard", [False, True], ids=["canned", "custom-policy"])
def test_debug_lines_of_a_signed_put_hide_signature_and_policy(
    mediastore_stack: LocalStack, caplog: pytest.LogCaptureFixture, wildcard: bool
) -> None:
    stack = mediastore_stack
    transport = RecordingTransport(ca_bundle=stack.ca_bundle)
    policy = (
        CustomPolicy(stack.ingest_base_url + "/live/*", int(time.time()) + 300)
        if wildcard
        else None
    )
    caplog.set_level(logging.DEBUG, logger="urllib3")
    with IngestClient(
        stack.ingest_base_url,
        signer=stack.signer,
        policy=policy,
        config=IngestConfig(ca_bundle=stack.ca_bundle),
        transport=transport,
    ) as client:
        client.put("live/seg1.ts", b"\x47" * 188)
    transport.close()
    assert stack.origin.read("live/seg1.ts") == b"\x47" * 188
    secrets = _secrets(transport.urls)
    assert secrets, "the request was not signed"
    if wildcard:
        assert any("Policy=" in url for url in transport.urls)
    text = _logged(caplog)
    assert "PUT /live/seg1.ts?" in text  # urllib3 did log the request line
    assert "Signature=<redacted>" in text
    for value in secrets:
        assert value not in text


def test_the_filter_is_added_once(mediastore_stack: LocalStack) -> None:
    for _ in range(3):
        Urllib3Transport(ca_bundle=mediastore_stack.ca_bundle).close()
        IngestClient(mediastore_stack.ingest_base_url).close()
    pool_logger = logging.getLogger("urllib3.connectionpool")
    assert sum(isinstance(f, RedactingFilter) for f in pool_logger.filters) == 1
