"""CloudFront's base64 (``+``→``-``, ``=``→``_``, ``/``→``~``): round trips, and one spelling
per byte string (a signature or policy cannot be re-spelled and still verify)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediastore_ingest._internal.b64 import cf_b64decode, cf_b64encode


@given(st.binary(max_size=300))
def test_cf_base64_round_trip(data):
    text = cf_b64encode(data)
    assert not set(text) & set("+/=\n")
    assert cf_b64decode(text) == data


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~"


@given(st.binary(min_size=1, max_size=64).filter(lambda d: len(d) % 3), st.integers(1, 15))
def test_cf_base64_refuses_non_zero_pad_bits(data, bits):
    """Only one text decodes to given bytes: a padded final quantum whose unused low
    bits are not zero is refused (RFC 4648 section 3.5), so a signature or policy
    cannot be re-spelled and still verify."""
    text = cf_b64encode(data)
    pads = len(text) - len(text.rstrip("_"))
    unused = 4 if pads == 2 else 2  # bits of the last character that carry no data
    last = _B64_ALPHABET.index(text[-pads - 1])
    respelled = _B64_ALPHABET[last | (bits % (1 << unused) or 1)]
    with pytest.raises(ValueError, match="pad bits"):
        cf_b64decode(text[: -pads - 1] + respelled + "_" * pads)


@pytest.mark.parametrize("text", ["AAAA_", "AAAA__", "AAA__", "AAAA____", "AA_", "AAAA___", "QQ"])
def test_cf_base64_refuses_padding_that_is_not_canonical(text):
    with pytest.raises(ValueError, match="not CloudFront base64"):
        cf_b64decode(text)


@settings(max_examples=400)
@given(st.text(alphabet="AQgwBZaz09-~_", max_size=10))
def test_cf_base64_has_one_spelling_per_byte_string(text):
    """Whatever decodes, re-encodes to exactly the text it came from."""
    try:
        data = cf_b64decode(text)
    except ValueError:
        return
    assert cf_b64encode(data) == text
