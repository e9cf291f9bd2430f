"""The shared toolkit: validators, shown values, redaction and strict JSON."""

from __future__ import annotations

import logging
import math

import attrs
import pytest

from mediastore_ingest._internal import jsonutil, redact, show, validate
from mediastore_ingest.errors import InvalidInputError, PolicyParseError

# --- validators --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        (validate.int_in(1), [1, 2**70], [0, -1, True, 1.0, "1", None]),
        (validate.int_in(0, 10), [0, 10], [-1, 11, False]),
        (validate.int_in(maximum=3), [-5, 3], [4]),
        (validate.number(), [0.1, 1, 1e300], [0, -1, math.inf, math.nan, True, "1"]),
        (validate.number(zero=True), [0, 0.0, 5], [-0.1, math.inf, math.nan]),
        (validate.number(infinite=True), [math.inf, 2], [0, -math.inf, math.nan]),
        (validate.text(), ["a"], ["", b"a", None, 1]),
        (validate.text(empty=True), ["", "a"], [None, b""]),
        (validate.one_line(), ["", "a b"], ["a\r", "a\nb", "a\0", 1]),
        (validate.one_line(empty=False), ["x"], [""]),
        (validate.is_bool(), [True, False], [0, 1, None, "True"]),
        (validate.is_callable(), [len, lambda: 1], [1, "f"]),
        (validate.instance_of(int), [1], ["1"]),
        (validate.one_of("a", 1), ["a", 1], ["b", True, 1.0]),
        (validate.optional(validate.int_in(1)), [None, 1], [0, ""]),
    ],
)
def test_validators_take_what_they_say_and_refuse_the_rest(
    validator: validate.Validator, good: list[object], bad: list[object]
) -> None:
    for value in good:
        assert validate.check("arg", value, validator) is value
    for value in bad:
        with pytest.raises(InvalidInputError, match=r"^arg must be ") as info:
            validate.check("arg", value, validator)
        assert validator.expected in str(info.value)


def test_a_validator_is_an_attrs_validator_naming_the_field() -> None:
    @attrs.frozen
    class Settings:
        retries: int = attrs.field(validator=validate.int_in(0, 5))

    assert Settings(3).retries == 3
    with pytest.raises(InvalidInputError, match=r"^retries must be an int in \[0, 5\], not 9$"):
        Settings(9)


def test_a_value_that_may_be_a_secret_is_named_by_its_type_only() -> None:
    validator = validate.optional(validate.instance_of(str))
    with pytest.raises(InvalidInputError) as info:
        validate.check("proxy_url", b"http://user:hunter2@proxy", validator)
    assert "hunter2" not in str(info.value)
    assert str(info.value).endswith("not bytes")


@pytest.mark.parametrize(
    ("value", "items"),
    [("a", ("a",)), (["a", "b"], ("a", "b")), (("x",), ("x",)), (iter(["y"]), ("y",)), ([], ())],
)
def test_str_items_takes_one_str_or_an_iterable_of_str(value: object, items: tuple[str, ...]) -> None:
    assert validate.str_items(value, "actions") == items


@pytest.mark.parametrize("value", [b"a", {"a": 1}, 3, None, ["a", 1], ["a", ""], [b"a"]])
def test_str_items_refuses_the_rest_without_showing_it(value: object) -> None:
    with pytest.raises(PolicyParseError, match=r"^actions must be ") as info:
        validate.str_items(value, "actions", error=PolicyParseError)
    assert "'a'" not in str(info.value)


def test_str_items_may_take_empty_strings() -> None:
    assert validate.str_items(["", "a"], "values", empty_items=True) == ("", "a")


# --- shown -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "None"),
        (True, "True"),
        (5, "5"),
        (1.5, "1.5"),
        ("short", "'short'"),
        ("x" * 100, "a str of 100 characters (not shown)"),
        (["secret"], "list"),
        ({"k": "secret"}, "dict"),
        (b"secret", "bytes"),
    ],
)
def test_shown_shows_scalars_and_short_str_and_describes_the_rest(value: object, text: str) -> None:
    assert show.shown(value) == text


def test_shown_hides_a_str_the_caller_says_may_be_a_secret() -> None:
    hide = lambda s: "Secret-" in s  # noqa: E731
    assert show.shown("MediaStore-Secret-abc", hide=hide) == "a str of 21 characters (not shown)"
    assert show.shown("curl/8", hide=hide) == "'curl/8'"
    assert show.shown("abcdef", limit=5) == "a str of 6 characters (not shown)"


# --- redaction ---------------------------------------------------------------------------


@pytest.mark.parametrize("param", redact.SECRET_QUERY_PARAMS)
def test_every_credential_query_parameter_is_redacted(param: str) -> None:
    url = f"https://d1.cloudfront.net/live/a.ts?Expires=1&{param}=c2VjcmV0&Key-Pair-Id=K1"
    clean = redact.redact_query(url)
    assert "c2VjcmV0" not in clean
    assert f"{param}=<redacted>" in clean
    assert "Expires=1" in clean
    assert "Key-Pair-Id=K1" in clean
    assert "c2VjcmV0" not in redact.target_repr(url)


def test_query_redaction_is_case_insensitive_and_spares_lookalikes() -> None:
    assert redact.redact_query("/a?signature=x") == "/a?signature=<redacted>"
    assert redact.redact_query("/a?MySignature=x") == "/a?MySignature=x"
    assert redact.redact_query("PUT /a?Policy=p&b=1 HTTP/1.1") == "PUT /a?Policy=<redacted>&b=1 HTTP/1.1"


def test_userinfo_is_hidden_whole_even_with_an_at_sign_in_the_password() -> None:
    text = "proxy http://user:p@ss@proxy:3128/ then https://token@host/x"
    assert redact.redact_userinfo(text) == "proxy http://***@proxy:3128/ then https://***@host/x"
    assert redact.redact_userinfo("https://host/a@b") == "https://host/a@b"


def test_header_redaction_wraps_credentials_in_redacted() -> None:
    headers = redact.redact_headers(
        [("User-Agent", "MediaStore-Secret-x"), ("X-Api-Token", "t"), ("Content-Type", "video/MP2T")]
    )
    assert headers == (("User-Agent", "MediaStore-Secret-x"), ("X-Api-Token", "t"), ("Content-Type", "video/MP2T"))
    assert "MediaStore-Secret-x" not in repr(headers)
    assert "'t'" not in repr(headers)
    assert "video/MP2T" in repr(headers)
    assert redact.is_secret_header("Cookie")
    assert not redact.is_secret_header("Content-Length")


def test_the_logging_filter_redacts_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.toolkit.redacting")
    log.addFilter(redact.RedactingFilter())
    try:
        with caplog.at_level(logging.DEBUG, logger=log.name):
            log.debug('"%s %s HTTP/1.1" 200', "PUT", "/live/a.ts?Expires=1&Signature=c2VjcmV0")
            log.debug("via %s", "http://user:hunter2@proxy:3128")
    finally:
        log.filters.clear()
    text = caplog.text
    assert "c2VjcmV0" not in text
    assert "hunter2" not in text
    assert "Signature=<redacted>" in text


# --- strict JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a' in the doc"),
        ('{"a": NaN}', "NaN is not valid in the doc"),
        ('{"a": -Infinity}', "-Infinity is not valid in the doc"),
        ("[" * 65 + "]" * 65, "the doc is nested too deeply"),
        ("{", "the doc is not valid JSON"),
        (b"\xff", "the doc is not UTF-8 text"),
        ("1" * 5000, "the doc holds a value Python cannot read"),
    ],
)
def test_strict_loads_refuses_as_the_callers_error(text: str | bytes, message: str) -> None:
    with pytest.raises(PolicyParseError, match="^" + message):
        jsonutil.strict_loads(text, error=PolicyParseError, what="the doc")


def test_strict_loads_reads_what_is_valid() -> None:
    assert jsonutil.strict_loads('{"a": ["[{", 1]}', error=ValueError) == {"a": ["[{", 1]}
    assert jsonutil.strict_loads("[" * 64 + "]" * 64, error=ValueError) is not None
    assert jsonutil.strict_loads('"\\"["', error=ValueError) == '"['
    assert jsonutil.compact_json({"é": "&"}) == '{"é":"&"}'
