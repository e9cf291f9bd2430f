"""The URL that is signed is the URL a browser sends: every character, path and query.

CloudFront rebuilds a canned policy from the URL it receives, so the signed form must be
a fixed point of every client that may send it: a browser (the WHATWG URL standard) and
urllib3 (the ingest client). A browser percent-encodes, in an http(s) URL,

- in the query, the *special-query percent-encode set*: C0 controls (U+0000-U+001F),
  space, ``"``, ``#``, ``<``, ``>``, ``'`` and every code point above U+007E;
- in the path, the *path percent-encode set*: C0 controls, space, ``"``, ``#``, ``<``,
  ``>``, ``?``, `````, ``{``, ``}`` and every code point above U+007E (some revisions
  of the standard add ``^``; the normaliser encodes ``^`` in any case).

(https://url.spec.whatwg.org/#percent-encoded-bytes.) A browser leaves an existing
``%XX`` alone, so the normaliser may encode *more* than a browser does, never less:
each test below checks, for one character, that the normalised URL holds nothing a
browser would encode, that it percent-decodes to the URL as given, and that urllib3
sends it unchanged. The path keeps the behaviour it had (it already encoded a superset
of the path set); the query now encodes ``'`` as ``%27``, as browsers do.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import urllib3

from mediastore_ingest.errors import PolicyError
from mediastore_ingest.signing.policy import CannedPolicy, CustomPolicy, normalize_url
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import UrlVerifier

BASE = "https://d1.cloudfront.net"
KID = "K2JCJMDEHXQW5F"
T = 2_000_000_000
NOW = T - 3600


# -- the WHATWG URL standard, written out independently of the code under test -------------


def _c0_control_set(ch: str) -> bool:
    return ord(ch) <= 0x1F or ord(ch) > 0x7E


def _query_set(ch: str) -> bool:
    return _c0_control_set(ch) or ch in ' "#<>'


def _special_query_set(ch: str) -> bool:
    return _query_set(ch) or ch == "'"


def _path_set(ch: str) -> bool:
    return _query_set(ch) or ch in "?`{}"


def _browser(component: str, in_set) -> str:  # type: ignore[no-untyped-def]
    """What a browser's URL serializer makes of ``component`` (its UTF-8, with the
    bytes of the code points in ``in_set`` percent-encoded; ``%XX`` kept)."""
    return "".join(
        "".join(f"%{b:02X}" for b in ch.encode("utf-8")) if in_set(ch) else ch
        for ch in component
    )


# Characters whose place in a URL is structural and tested elsewhere: "#" starts a
# fragment (refused), "?" ends the path, "%" starts an escape (a lone one becomes %25).
_ASCII = [chr(c) for c in range(128)]
_NON_ASCII = ["é", "€", "\u00a0", "\u2028", "\ufeff", "𝄞", "日"]
# What the normaliser leaves raw (RFC 3986 unreserved and sub-delims, ":", "@", "/").
_RAW_IN_PATH = set(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/"
)
_RAW_IN_QUERY = (_RAW_IN_PATH | {"?"}) - {"'"}


def _label(ch: str) -> str:
    return f"U+{ord(ch):04X}"


@pytest.mark.parametrize("ch", [c for c in _ASCII + _NON_ASCII if c not in "#?"], ids=_label)
def test_each_character_in_the_path_is_sent_as_signed(ch: str) -> None:
    given = f"{BASE}/a{ch}b"
    out = normalize_url(given)
    path = out[len(BASE):]
    assert out.isascii()
    assert _browser(path, _path_set) == path  # a browser sends it unchanged
    assert urllib3.util.parse_url(out).url == out  # so does urllib3
    assert unquote(path) == f"/a{ch}b"  # and it names the same bytes
    if ch in _RAW_IN_PATH:
        assert path == f"/a{ch}b"
    elif ch != "%":
        assert path == "/a" + "".join(f"%{b:02X}" for b in ch.encode()) + "b"


@pytest.mark.parametrize("ch", [c for c in _ASCII + _NON_ASCII if c != "#"], ids=_label)
def test_each_character_in_the_query_is_sent_as_signed(ch: str) -> None:
    given = f"{BASE}/a?x={ch}y"
    out = normalize_url(given)
    query = out.partition("?")[2]
    assert out.isascii()
    assert _browser(query, _special_query_set) == query  # a browser sends it unchanged
    assert urllib3.util.parse_url(out).url == out  # so does urllib3
    assert unquote(query) == f"x={ch}y"
    if ch in _RAW_IN_QUERY:
        assert query == f"x={ch}y"
    elif ch != "%":
        assert query == "x=" + "".join(f"%{b:02X}" for b in ch.encode()) + "y"


def test_an_apostrophe_is_raw_in_the_path_and_percent_encoded_in_the_query() -> None:
    assert normalize_url(f"{BASE}/it's/a.mp4?name=it's") == f"{BASE}/it's/a.mp4?name=it%27s"
    # Already in that form: unchanged (never encoded twice).
    assert normalize_url(f"{BASE}/it's/a.mp4?name=it%27s") == f"{BASE}/it's/a.mp4?name=it%27s"


def test_a_wildcard_resource_encodes_the_query_the_same_way() -> None:
    policy = CustomPolicy(f"{BASE}/dl/*?f=it's*", T)
    assert policy.resource == f"{BASE}/dl/*?f=it%27s*"
    assert policy.matches(f"{BASE}/dl/x/a.mp4?f=it's.mp4")


# -- the S3 download link that motivated it -------------------------------------------------

_DISPOSITION = "response-content-disposition=attachment%3B%20filename*%3DUTF-8''caf%C3%A9.mp4"


@pytest.fixture(scope="module")
def signer(rsa_key) -> UrlSigner:  # type: ignore[no-untyped-def]
    return UrlSigner(KID, rsa_key, clock=lambda: NOW)


@pytest.fixture(scope="module")
def verifier(rsa_key) -> UrlVerifier:  # type: ignore[no-untyped-def]
    return UrlVerifier({KID: rsa_key.public_key()}, clock=lambda: NOW)


def test_rfc_5987_filename_signs_with_a_canned_policy(signer, verifier) -> None:  # type: ignore[no-untyped-def]
    url = f"{BASE}/vod/a.mp4?{_DISPOSITION}"
    signed = signer.sign_url(url, expires=T)
    assert signed.startswith(
        f"{BASE}/vod/a.mp4?response-content-disposition=attachment%3B%20filename*%3DUTF-8"
        "%27%27caf%C3%A9.mp4&Expires="
    )
    base, _, _ = signed.partition("&Expires=")
    assert _browser(base.partition("?")[2], _special_query_set) == base.partition("?")[2]
    policy = verifier.verify_url(signed)
    assert isinstance(policy, CannedPolicy)
    assert policy.resource == base


def test_a_literal_star_in_the_query_is_a_canned_policy() -> None:
    policy = CannedPolicy(f"{BASE}/a.mp4?filename*=x", T)
    assert policy.resource == f"{BASE}/a.mp4?filename*=x"
    assert '"Resource":"https://d1.cloudfront.net/a.mp4?filename*=x"' in policy.to_json()


@pytest.mark.parametrize("url", [f"{BASE}/live/*", f"{BASE}/live/*.ts?x=1", f"{BASE}/*?a*"])
def test_a_star_in_the_path_is_still_refused_for_a_canned_policy(url: str, signer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError, match="CustomPolicy"):
        CannedPolicy(url, T)
    with pytest.raises(PolicyError, match="CustomPolicy"):
        signer.sign_url(url, expires=T)


def test_the_command_line_signs_a_star_in_the_query_with_a_canned_policy(capsys, key_files) -> None:  # type: ignore[no-untyped-def]
    from tests._support.cli import run

    priv, _ = key_files
    code, out, err = run(capsys, "sign-url", f"{BASE}/a.mp4?filename*=UTF-8''x.mp4",
                         "--expires", "+10m", "--key-id", KID, "--private-key", str(priv))
    assert code == 0, err
    assert out.startswith(f"{BASE}/a.mp4?filename*=UTF-8%27%27x.mp4&Expires=")
    assert "Policy=" not in out
