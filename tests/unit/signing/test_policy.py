"""CloudFront policy bytes, normalisation and wildcard rules (DESIGN.md "Facts")."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from mediastore_ingest.errors import PolicyError, PolicyParseError
from mediastore_ingest.signing.policy import (
    MAX_EPOCH,
    CannedPolicy,
    CustomPolicy,
    _normalize_url,
    normalize_url,
    to_epoch,
    wildcard_match,
)
from mediastore_ingest.signing.policy import (
    already_normal as _already_normal,
)
from mediastore_ingest.signing.policy import (
    in_wire_form as _in_wire_form,
)

URL = "https://d111111abcdef8.cloudfront.net/live/seg1.ts"
T = 1767225600  # 2026-01-01T00:00:00Z


# -- exact bytes --------------------------------------------------------------------------


def test_canned_policy_bytes_are_exactly_cloudfronts():
    assert CannedPolicy(URL, T).to_json() == (
        '{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/live/seg1.ts",'
        '"Condition":{"DateLessThan":{"AWS:EpochTime":1767225600}}}]}'
    )


def test_custom_policy_bytes_full():
    policy = CustomPolicy(
        "https://d111111abcdef8.cloudfront.net/live/*",
        T,
        not_before=T - 86400,
        source_ip="192.0.2.0/24",
    )
    assert policy.to_json() == (
        '{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/live/*",'
        '"Condition":{"DateLessThan":{"AWS:EpochTime":1767225600},'
        '"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"},'
        '"DateGreaterThan":{"AWS:EpochTime":1767139200}}}]}'
    )


def test_custom_policy_bytes_minimal():
    assert CustomPolicy("https://d1.cloudfront.net/*", T).to_json() == (
        '{"Statement":[{"Resource":"https://d1.cloudfront.net/*",'
        '"Condition":{"DateLessThan":{"AWS:EpochTime":1767225600}}}]}'
    )


def test_ampersand_and_slash_are_not_escaped():
    text = CannedPolicy("https://d1.cloudfront.net/a/b.m3u8?x=1&y=2", T).to_json()
    assert "?x=1&y=2" in text
    assert "\\u0026" not in text
    assert "\\/" not in text


def test_non_ascii_and_spaces_are_percent_encoded_once():
    policy = CannedPolicy("https://d1.cloudfront.net/live/é seg.ts?t=a b", T)
    assert policy.resource == "https://d1.cloudfront.net/live/%C3%A9%20seg.ts?t=a%20b"
    assert "\\u" not in policy.to_json()
    # Already-encoded input stays as it is: never double-encoded.
    again = CannedPolicy(policy.resource, T)
    assert again.resource == policy.resource


def test_lone_percent_is_encoded():
    assert normalize_url("https://d1.cloudfront.net/100%.ts") == (
        "https://d1.cloudfront.net/100%25.ts"
    )
    assert normalize_url("https://d1.cloudfront.net/a%2Fb") == "https://d1.cloudfront.net/a%2Fb"


def test_quote_and_backslash_never_reach_the_json_raw():
    policy = CannedPolicy('https://d1.cloudfront.net/a"b\\c', T)
    assert policy.resource == "https://d1.cloudfront.net/a%22b%5Cc"
    json.loads(policy.to_json())


def test_empty_path_becomes_slash_and_host_is_lowercased():
    assert normalize_url("https://D1.CloudFront.net") == "https://d1.cloudfront.net/"
    assert normalize_url("https://d1.cloudfront.net?a=1") == "https://d1.cloudfront.net/?a=1"


def test_idna_host():
    assert normalize_url("https://bücher.example/x") == "https://xn--bcher-kva.example/x"


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://d1.cloudfront.net/a.ts#frag",
        "ftp://d1.cloudfront.net/a.ts",
        "d1.cloudfront.net/a.ts",
        "https:///a.ts",
        "",
    ],
)
def test_bad_urls_refused(url):
    with pytest.raises(PolicyError):
        CannedPolicy(url, T)


@pytest.mark.parametrize("name", ["Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"])
def test_reserved_query_names_refused(name):
    with pytest.raises(PolicyError, match=name):
        CannedPolicy(f"https://d1.cloudfront.net/a.ts?{name}=1", T)


def test_lookalike_query_names_allowed():
    assert CannedPolicy("https://d1.cloudfront.net/a.ts?expires=1&MyPolicy=2", T)


def test_wildcard_never_becomes_a_canned_policy():
    with pytest.raises(PolicyError, match="CustomPolicy"):
        CannedPolicy("https://d1.cloudfront.net/live/*", T)


def test_naive_datetime_refused():
    with pytest.raises(PolicyError, match="naive"):
        CannedPolicy(URL, dt.datetime(2026, 1, 1))


def test_aware_datetime_any_zone():
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert CannedPolicy(URL, dt.datetime(2026, 1, 1, 2, 0, tzinfo=plus2)).expires == T
    # fractional seconds are dropped, never rounded up
    when = dt.datetime(2026, 1, 1, 0, 0, 0, 999_999, tzinfo=dt.timezone.utc)
    assert to_epoch(when) == T


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1767225600000, "milliseconds"),
        (MAX_EPOCH + 1, "latest"),
        (-1, "before 1970"),
        (1767225600.5, "float"),
        (True, "bool"),
        ("1767225600", "str"),
    ],
)
def test_bad_epochs(value, message):
    with pytest.raises(PolicyError, match=message):
        CannedPolicy(URL, value)


def test_max_epoch_accepted():
    assert CannedPolicy(URL, MAX_EPOCH).expires == MAX_EPOCH


def test_expires_must_follow_not_before():
    with pytest.raises(PolicyError, match="after not_before"):
        CustomPolicy("https://d1.cloudfront.net/*", T, not_before=T)


@pytest.mark.parametrize(
    ("given_ip", "normalised"),
    [("192.0.2.7", "192.0.2.7/32"), ("192.0.2.0/24", "192.0.2.0/24"), ("0.0.0.0/0", "0.0.0.0/0")],
)
def test_source_ip_normalised(given_ip, normalised):
    assert CustomPolicy("https://d1.cloudfront.net/*", T, source_ip=given_ip).source_ip == normalised


@pytest.mark.parametrize(
    ("bad", "message"),
    [("2001:db8::1", "IPv6"), ("2001:db8::/32", "IPv6"), ("192.0.2.7/24", "host bits"),
     ("192.0.2.300", "not an IPv4"), ("any", "not an IPv4")],
)
def test_source_ip_refused(bad, message):
    with pytest.raises(PolicyError, match=message):
        CustomPolicy("https://d1.cloudfront.net/*", T, source_ip=bad)


# -- wildcards and validity -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "url", "expected"),
    [
        ("https://d1.cloudfront.net/live/*", "https://d1.cloudfront.net/live/seg1.ts", True),
        ("https://d1.cloudfront.net/live/*", "https://d1.cloudfront.net/live/", True),
        ("https://d1.cloudfront.net/live/*", "https://d1.cloudfront.net/vod/seg1.ts", False),
        ("https://d1.cloudfront.net/live/*", "https://d1.cloudfront.net/Live/seg1.ts", False),
        ("https://d1.cloudfront.net/live/seg?.ts", "https://d1.cloudfront.net/live/seg1.ts", True),
        ("https://d1.cloudfront.net/live/seg?.ts", "https://d1.cloudfront.net/live/seg10.ts", False),
        ("https://d1.cloudfront.net/live/seg?.ts", "https://d1.cloudfront.net/live/seg.ts", False),
        ("http*://d1.cloudfront.net/*", "http://d1.cloudfront.net/a", True),
        ("http*://d1.cloudfront.net/*", "https://d1.cloudfront.net/a?b=c", True),
        ("*", "https://anything.example/x?y", True),
        ("https://d?.cloudfront.net/*", "https://d1.cloudfront.net/x", True),
        ("https://d1.cloudfront.net/*.m3u8", "https://d1.cloudfront.net/a/b/index.m3u8", True),
        ("https://d1.cloudfront.net/*.m3u8", "https://d1.cloudfront.net/a.m3u8?x=1", False),
        ("https://d1.cloudfront.net/a b/*", "https://d1.cloudfront.net/a%20b/c", True),
    ],
)
def test_wildcard_matching(resource, url, expected):
    assert CustomPolicy(resource, T).matches(url) is expected


def test_canned_matches_exactly():
    policy = CannedPolicy(URL, T)
    assert policy.matches(URL)
    assert not policy.matches(URL + "x")


def test_validity_window_and_ip():
    policy = CustomPolicy("https://d1.cloudfront.net/*", T, not_before=T - 10, source_ip="192.0.2.0/24")
    assert policy.is_valid_at(T - 10, "192.0.2.9")
    assert policy.is_valid_at(T - 1, "192.0.2.9")
    assert not policy.is_valid_at(T, "192.0.2.9")  # DateLessThan is strict
    assert not policy.is_valid_at(T - 11, "192.0.2.9")
    assert not policy.is_valid_at(T - 5, "198.51.100.1")
    assert not policy.is_valid_at(T - 5, "::1")
    assert not policy.is_valid_at(T - 5, None)
    assert CannedPolicy(URL, T).is_valid_at(T - 1)
    assert not CannedPolicy(URL, T).is_valid_at(T)


# -- parsing ----------------------------------------------------------------------------------


def test_from_json_accepts_whitespace_and_any_key_order():
    text = """
    { "Statement": [ { "Condition": { "DateGreaterThan": {"AWS:EpochTime": 1767139200},
        "IpAddress": {"AWS:SourceIp": "192.0.2.0/24"},
        "DateLessThan": {"AWS:EpochTime": 1767225600} },
      "Resource": "https://d1.cloudfront.net/live/*" } ] }
    """
    policy = CustomPolicy.from_json(text)
    assert policy == CustomPolicy(
        "https://d1.cloudfront.net/live/*", T, not_before=1767139200, source_ip="192.0.2.0/24"
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"Statement":[]}',
        '{"Statement":[{"Resource":"https://a/*","Condition":{}}]}',
        '{"Statement":[{"Resource":"https://a/*","Condition":{"DateLessThan":{"AWS:EpochTime":"1"}}}]}',
        '{"Statement":[{"Resource":"https://a/*","Condition":{"DateLessThan":{"AWS:EpochTime":1.5}}}]}',
        '{"Statement":[{"Resource":"https://a/*","Condition":{"DateLessThan":{"AWS:EpochTime":1},"Foo":{}}}]}',
        '{"Statement":[{"Resource":"https://a/*","Effect":"Allow","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}',
        '{"Statement":[{"Resource":"https://a/*","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}],"Version":"x"}',
        '{"Statement":[{"Resource":"https://a/*","Condition":{"DateLessThan":{"AWS:EpochTime":1},'
        '"IpAddress":{"AWS:SourceIp":"::1/128"}}}]}',
        '{"Statement":[{"Resource":"https://a/*","Condition":{"DateLessThan":{"AWS:EpochTime":1}}},'
        '{"Resource":"https://b/*","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}',
    ],
)
def test_from_json_rejects(text):
    with pytest.raises(PolicyParseError):
        CustomPolicy.from_json(text)


# -- properties ---------------------------------------------------------------------------------

_path_chars = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="#*"),
    max_size=30,
)
_epochs = st.integers(min_value=1, max_value=MAX_EPOCH)


@st.composite
def custom_policies(draw):
    prefix = draw(st.sampled_from(["https://d1.cloudfront.net/", "http://h.example/", "http*://x/"]))
    resource = prefix + draw(_path_chars).replace("?", "") + draw(st.sampled_from(["*", "", "?"]))
    expires = draw(_epochs)
    not_before = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=expires - 1)))
    ip = draw(st.one_of(st.none(), st.ip_addresses(v=4).map(str)))
    return CustomPolicy(resource, expires, not_before=not_before, source_ip=ip)


@given(custom_policies())
def test_custom_policy_json_round_trip(policy):
    text = policy.to_json()
    assert CustomPolicy.from_json(text) == policy
    assert " " not in text.replace(policy.resource, "")
    assert text.isascii()


@given(_path_chars, _epochs)
def test_normalisation_is_idempotent(path, expires):
    policy = CannedPolicy("https://d1.cloudfront.net/" + path, expires)
    assert normalize_url(policy.resource) == policy.resource
    assert policy.matches(policy.resource)
    assert policy.resource.isascii()
    json.loads(policy.to_json())


# Pieces that decide which way a URL takes through normalize_url: the fast path may
# take a URL only when the full normaliser would return it unchanged. Most draws are
# in wire form already, so the fast path is exercised; the rest poke at its edges.
_SAFE_PIECES = ["a", "Z", "0", "seg1.ts", "-", "_", "~", ":", "@", "!", "$", "&", "'", "(",
                ")", "*", "+", ",", ";", "=", "/", "."]
_EDGY_PIECES = ["/.", "/..", "..", "?", "?x=1", "?Expires=1", "%", "%2f", "%41", "#", " ",
                "é", "[", "]", "\\", '"', "<", "\x00", "\t", "//", ":443",
                "?x='", "'", "?Expir%65s=1", "&Policy=1", "?a+b=1", "+", "%4", "%2E", "?&"]
_URLS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["https"] * 4 + ["http"] * 2 + ["HTTPS", "Http", "ftp", ""]),
        st.sampled_from(["://"] * 6 + [":/", "//"]),
        st.sampled_from(["d1.cloudfront.net"] * 4 + ["a-b.c", "Example.com", ".x", "",
                        "[::1]", "user@h", "h*", "é.example", "x_y", "a..b", "[2001:DB8::1]"]),
        st.sampled_from([""] * 8 + [":443", ":80", ":8080", ":0", ":99999", ":", ":0443",
                                    ":65535", ":65536"]),
        st.sampled_from(["/"] * 6 + ["", "?q"]),
        st.one_of(
            st.lists(st.sampled_from(_SAFE_PIECES), max_size=8),
            st.lists(st.sampled_from(_SAFE_PIECES * 3 + _EDGY_PIECES), max_size=8),
        ).map("".join),
    ),
)


@settings(max_examples=500)
@given(_URLS)
def test_fast_path_agrees_with_the_full_normaliser(url):
    try:
        expected: str | type[PolicyError] = _normalize_url(url, False)
    except PolicyError:
        expected = PolicyError
    if _already_normal(url):
        assert expected == url
    if _in_wire_form(url):
        assert expected == url
    try:
        got: str | type[PolicyError] = normalize_url(url)
    except PolicyError:
        got = PolicyError
    assert got == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://d1.cloudfront.net/live/seg1.ts",
        "http://example.com/a/b-c_d~e.f/g:h@i!j$k&l'm(n)o*p+q,r;s=t",
        "https://d1.cloudfront.net/",
    ],
)
def test_fast_path_takes_urls_already_in_wire_form(url):
    assert _already_normal(url)
    assert normalize_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://d1.cloudfront.net/a",
        "https://D1.cloudfront.net/a",
        "https://d1.cloudfront.net",
        "https://d1.cloudfront.net:443/a",
        "https://d1.cloudfront.net/a/./b",
        "https://d1.cloudfront.net/a/../b",
        "https://d1.cloudfront.net/a?x=1",
        "https://d1.cloudfront.net/a%2f",
        "https://d1.cloudfront.net/a b",
        "https://user@d1.cloudfront.net/a",
    ],
)
def test_fast_path_leaves_everything_else_to_the_full_normaliser(url):
    assert not _already_normal(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://d1.cloudfront.net/a?x=1",
        "http://127.0.0.1:8080/live/a.ts?b=%41&c=it%27s",
        "https://[::1]:8443/a",
        "https://d1.cloudfront.net/?",
        "https://d1.cloudfront.net/a?filename*=UTF-8%27%27x",
    ],
)
def test_the_wire_form_check_takes_ports_and_queries(url):
    assert _in_wire_form(url)
    assert _normalize_url(url, False) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://d1.cloudfront.net/a?x='",
        "https://d1.cloudfront.net/a?Expires=1",
        "https://d1.cloudfront.net/a?x=1&Expir%65s=1",
        "https://d1.cloudfront.net:443/a",
        "https://d1.cloudfront.net:0/a",
        "https://d1.cloudfront.net/a?x=%4a",
        "https://d1.cloudfront.net/a/../b?x=1",
        "https://d1.cloudfront.net?x=1",
    ],
)
def test_the_wire_form_check_leaves_the_rest_to_the_full_normaliser(url):
    assert not _in_wire_form(url)


# -- the URL that is signed is the URL clients send -----------------------------------------


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("https://d1.cloudfront.net:443/live/x.ts", "https://d1.cloudfront.net/live/x.ts"),
        ("http://d1.cloudfront.net:80/live/x.ts", "http://d1.cloudfront.net/live/x.ts"),
        ("https://d1.cloudfront.net:8443/x", "https://d1.cloudfront.net:8443/x"),
        ("https://d1.cloudfront.net/a%2fb", "https://d1.cloudfront.net/a%2Fb"),
        ("https://d1.cloudfront.net/a[1].ts", "https://d1.cloudfront.net/a%5B1%5D.ts"),
        ("https://d1.cloudfront.net/live/../x.ts", "https://d1.cloudfront.net/x.ts"),
        ("https://d1.cloudfront.net/live/./x.ts", "https://d1.cloudfront.net/live/x.ts"),
        ("https://d1.cloudfront.net/a/b/..", "https://d1.cloudfront.net/a/"),
    ],
)
def test_normalised_form_is_what_urllib3_sends(given, sent):
    assert normalize_url(given) == sent
    parsed = urllib3.util.parse_url(sent)
    assert parsed.url == sent


def test_bad_ports_refused():
    for url in ("https://d1.cloudfront.net:99999/x", "https://d1.cloudfront.net:0/x"):
        with pytest.raises(PolicyError, match="port"):
            normalize_url(url)


def test_dot_segments_refused_in_wildcard_resources():
    with pytest.raises(PolicyError, match="dot segment"):
        CustomPolicy("https://d1.cloudfront.net/live/../*", T)


# -- wildcard_match is linear ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("", "", True), ("*", "", True), ("?", "", False), ("a*b", "ab", True),
        ("a*b", "axxb", True), ("a*b", "axxc", False), ("*a*a*a*b", "a" * 50, False),
        ("a?c", "abc", True), ("a?c", "ac", False), ("*.ts", "x/y.ts", True),
        ("live/*", "live/", True), ("live/*", "vod/x", False), ("**", "abc", True),
    ],
)
def test_wildcard_match(pattern, text, expected):
    assert wildcard_match(pattern, text) is expected


def test_wildcard_match_case_insensitive():
    assert wildcard_match("MediaStore:Put*", "mediastore:putobject", case_sensitive=False)
    assert not wildcard_match("MediaStore:Put*", "mediastore:putobject")


def test_pathological_wildcards_stay_fast():
    policy = CustomPolicy("https://d1.cloudfront.net/live/*a*a*a*a*a*a*b", T)
    started = time.monotonic()
    assert not policy.matches("https://d1.cloudfront.net/live/" + "a" * 2000)
    # Correctness is asserted above; the bound below only catches exponential blow-up
    # (the old regex took minutes here), not ordinary slowness.
    assert time.monotonic() - started < 20


# -- strict JSON: nesting depth, duplicate keys ------------------------------------------------


def test_deeply_nested_policy_json_is_a_parse_error():
    with pytest.raises(PolicyParseError):
        CustomPolicy.from_json("[" * 5000)


def test_duplicate_policy_keys_refused():
    text = ('{"Statement":[{"Resource":"https://a/*","Resource":"https://b/*",'
            '"Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}')
    with pytest.raises(PolicyParseError, match="duplicate"):
        CustomPolicy.from_json(text)
