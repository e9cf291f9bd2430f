"""Every error has a ``hint``; refusals from the edge and the origin say what to check.

Before: a wrong private key gave ``403 AccessDenied: Access denied`` and nothing more,
an unknown key id was not named, an unsigned ``put`` said ``MissingKey`` without
``--key-id/--private-key``, and an S3 checksum mismatch had no hint.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mediastore_ingest import errors
from mediastore_ingest.errors import (
    AccessDeniedError,
    HTTPStatusError,
    IngestError,
    MediaStoreIngestError,
    ProvisioningError,
    RetriesExhaustedError,
    VerificationError,
)
from mediastore_ingest.ingest import (
    IngestClient,
    IngestConfig,
    MockTransport,
    Response,
    RetryPolicy,
)
from mediastore_ingest.ingest.status import TROUBLESHOOTING_URL
from mediastore_ingest.signing import UrlSigner, generate_key_pair
from mediastore_ingest.testing import LocalStack

TROUBLESHOOTING = Path(__file__).resolve().parents[2] / "docs" / "guides" / "troubleshooting.md"


# --- the attribute ---------------------------------------------------------------------


def test_hint_is_an_optional_keyword_on_the_root() -> None:
    plain = MediaStoreIngestError("a", "b")
    assert plain.hint is None
    assert plain.args == ("a", "b")
    hinted = MediaStoreIngestError("a", hint="check b")
    assert hinted.hint == "check b"
    assert hinted.args == ("a",)
    assert str(hinted) == "a"  # the message is unchanged; the CLI prints the hint


def test_every_error_takes_a_hint_and_keeps_its_arguments() -> None:
    made = [
        errors.InvalidInputError("m", hint="h"),
        VerificationError("m", url="https://d1/a", hint="h"),
        ProvisioningError("m", operation="Op", code="C", hint="h"),
        IngestError("m", path="p", hint="h"),
        HTTPStatusError("m", path="p", status=500, code="C", hint="h"),
        AccessDeniedError("m", status=403, hint="h"),
        errors.BodyNotRetryableError("m", attempts=2, hint="h"),
        RetriesExhaustedError("m", attempts=3, last_error=None, hint="h"),
        errors.ObjectTooLargeError("m", size=2, limit=1, origin="o", hint="h"),
        errors.RequestBodyError("m", reason="too_large", hint="h"),
    ]
    assert all(e.hint == "h" for e in made)
    assert all(e.args == ("m",) for e in made)
    assert HTTPStatusError("m", status=500).hint is None
    assert HTTPStatusError("m", status=500).attempts is None
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, MediaStoreIngestError):
            assert "hint" in vars(MediaStoreIngestError)
            assert hasattr(cls, "hint")


# --- from the edge, over real sockets --------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> LocalStack:
    with LocalStack() as running:
        yield running


def _refusal(client: IngestClient) -> AccessDeniedError:
    with pytest.raises(AccessDeniedError) as err:
        client.put("live/a.ts", b"x")
    return err.value


def test_unsigned_put_hints_at_the_signer(stack: LocalStack) -> None:
    exc = _refusal(stack.ingest_client(signer=None))
    assert exc.code == "MissingKey"
    assert exc.hint is not None
    assert "--key-id and --private-key" in exc.hint
    assert "signer" in exc.hint
    assert f"{TROUBLESHOOTING_URL}#missingkey" in exc.hint


def test_unknown_key_id_is_named(stack: LocalStack) -> None:
    other = generate_key_pair(algorithm="ecdsa").private_key
    exc = _refusal(stack.ingest_client(signer=UrlSigner("KUNKNOWN123", other)))
    assert exc.code == "InvalidKey"
    assert exc.hint is not None
    assert "'KUNKNOWN123'" in exc.hint
    assert "key group" in exc.hint


def test_wrong_private_key_hints_at_the_key(stack: LocalStack) -> None:
    wrong = generate_key_pair(algorithm="ecdsa").private_key
    exc = _refusal(stack.ingest_client(signer=UrlSigner(stack.key_id, wrong)))
    assert exc.code == "AccessDenied"
    assert exc.hint is not None
    assert repr(stack.key_id) in exc.hint
    assert "private key" in exc.hint
    assert exc.attempts == 1


def test_s3_checksum_mismatch_says_origin_s3() -> None:
    with LocalStack(origin="s3") as s3_stack:
        client = s3_stack.ingest_client(config=IngestConfig(ca_bundle=s3_stack.ca_bundle))
        with pytest.raises(HTTPStatusError) as err:
            client.put("live/a.ts", b"x")
    assert err.value.code == "XAmzContentSHA256Mismatch"
    assert err.value.hint is not None
    assert "origin='s3'" in err.value.hint
    assert "--origin s3" in err.value.hint


# --- from the origin, and through retries ----------------------------------------------


def test_an_origin_code_gets_its_origins_hint() -> None:
    body = b'{"__type": "AccessDeniedException", "Message": "Access Denied"}'
    client = IngestClient(
        "https://d1.example.net", transport=MockTransport(lambda r: Response(403, {}, body))
    )
    exc = _refusal(client)
    assert exc.hint is not None
    assert "User-Agent secret" in exc.hint


def test_s3s_access_denied_is_not_taken_for_the_edge() -> None:
    body = (b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
            b"<RequestId>R1</RequestId></Error>")
    client = IngestClient(
        "https://d1.example.net", config=IngestConfig(origin="s3"),
        transport=MockTransport(lambda r: Response(403, {}, body)),
    )
    exc = _refusal(client)
    assert exc.hint is not None
    assert "bucket policy" in exc.hint


def test_retries_exhausted_carries_the_last_hint() -> None:
    body = b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"
    client = IngestClient(
        "https://d1.example.net",
        config=IngestConfig(origin="s3", retry=RetryPolicy(max_attempts=2)),
        transport=MockTransport(lambda r: Response(503, {}, body)), sleep=lambda s: None,
    )
    with pytest.raises(RetriesExhaustedError) as err:
        client.put("live/a.ts", b"x")
    assert err.value.hint is not None
    assert "S3 is scaling up" in err.value.hint


# --- the links -------------------------------------------------------------------------


def _slug(heading: str) -> str:
    # what the toc extension (Python-Markdown's slugify) makes of a heading
    markdown_toc = pytest.importorskip("markdown.extensions.toc")
    return str(markdown_toc.slugify(heading, "-"))


def test_every_hint_link_has_its_section() -> None:
    from mediastore_ingest.ingest import status

    headings = {
        _slug(m.group(1).strip())
        for m in re.finditer(r"^#{2,4} (.+)$", TROUBLESHOOTING.read_text(), re.MULTILINE)
    }
    sections = set(status.DOC_SECTIONS.values())
    assert sections
    assert sections <= headings, sections - headings
    assert TROUBLESHOOTING_URL.endswith("/guides/troubleshooting/")
