"""CloudFront DistributionConfig builders: shape checked against botocore's own model."""

from __future__ import annotations

import string
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from mediastore_ingest.distribution import (
    ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
    CACHING_DISABLED_POLICY_ID,
    CACHING_OPTIMIZED_POLICY_ID,
    FORBIDDEN_ORIGIN_HEADERS,
    detect_origin_type,
    ingest_distribution_config,
    origin_access_control_config,
    playback_distribution_config,
    validate_origin_domain,
)
from mediastore_ingest.errors import DistributionConfigError
from mediastore_ingest.iam.secret import IngestSecret

MS_HOST = "abc123def456.data.mediastore.us-west-2.amazonaws.com"
S3_HOST = "live-bucket.s3.us-west-2.amazonaws.com"
SECRET = IngestSecret("Ingest0Secret0Value0AbCdEfGh")
PLAY_SECRET = IngestSecret("Playback0Secret0Value0ZyXwV")
OAC_ID = "E1OACEXAMPLE7"

_CF_MODEL = botocore.session.get_session().get_service_model("cloudfront")


def assert_botocore_accepts(operation: str, params: dict[str, Any]) -> None:
    """The dict passes botocore's parameter validation for ``operation``."""
    shape = _CF_MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


def ingest(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "origin_domain": MS_HOST,
        "secret": SECRET,
        "key_group_id": "KG1EXAMPLE",
        "caller_reference": "ref-ingest",
    }
    kwargs.update(overrides)
    return ingest_distribution_config(**kwargs)


def only_origin(config: dict[str, Any]) -> dict[str, Any]:
    origins = config["Origins"]
    assert origins["Quantity"] == 1
    origin: dict[str, Any] = origins["Items"][0]
    return origin


def headers(config: dict[str, Any]) -> dict[str, str]:
    custom = only_origin(config)["CustomHeaders"]
    items = custom.get("Items", [])
    assert custom["Quantity"] == len(items)
    return {h["HeaderName"]: h["HeaderValue"] for h in items}


# --- ingest ------------------------------------------------------------------------


def test_ingest_config_is_accepted_by_botocore_for_create_and_update() -> None:
    config = ingest()
    assert_botocore_accepts("CreateDistribution", {"DistributionConfig": config})
    assert_botocore_accepts(
        "CreateDistributionWithTags",
        {"DistributionConfigWithTags": {"DistributionConfig": config, "Tags": {"Items": []}}},
    )
    assert_botocore_accepts(
        "UpdateDistribution", {"DistributionConfig": config, "Id": "E1", "IfMatch": "E2"}
    )


def test_ingest_config_contents() -> None:
    config = ingest(origin_read_timeout=45, origin_keepalive_timeout=9)
    origin = only_origin(config)
    assert origin["DomainName"] == MS_HOST
    custom = origin["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] == "https-only"
    assert custom["OriginSslProtocols"] == {"Quantity": 1, "Items": ["TLSv1.2"]}
    assert (custom["OriginReadTimeout"], custom["OriginKeepaliveTimeout"]) == (45, 9)
    assert "S3OriginConfig" not in origin
    assert headers(config) == {"User-Agent": "MediaStore-Secret-" + SECRET.value}

    behavior = config["DefaultCacheBehavior"]
    assert behavior["TargetOriginId"] == origin["Id"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["AllowedMethods"]["Items"] == [
        "GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"
    ]
    assert behavior["AllowedMethods"]["Quantity"] == 7
    assert behavior["AllowedMethods"]["CachedMethods"]["Items"] == ["GET", "HEAD"]
    assert behavior["CachePolicyId"] == CACHING_DISABLED_POLICY_ID
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID
    assert "ForwardedValues" not in behavior
    assert behavior["TrustedKeyGroups"] == {"Enabled": True, "Quantity": 1, "Items": ["KG1EXAMPLE"]}
    assert config["CallerReference"] == "ref-ingest"
    assert config["Enabled"] is True


def test_ingest_requires_key_group_and_secret() -> None:
    with pytest.raises(DistributionConfigError, match="key group"):
        ingest(key_group_id=None)
    with pytest.raises(DistributionConfigError, match="secret"):
        ingest(secret=None)
    with pytest.raises(DistributionConfigError, match="IngestSecret"):
        ingest(secret=SECRET.value)


@pytest.mark.parametrize(
    ("read", "keepalive", "ok"),
    [(1, 1, True), (60, 60, True), (30, 5, True), (0, 5, False), (61, 5, False),
     (30, 0, False), (30, 61, False), (True, 5, False), (30.0, 5, False)],
)
def test_timeouts_are_bounded(read: Any, keepalive: Any, ok: bool) -> None:
    if ok:
        config = ingest(origin_read_timeout=read, origin_keepalive_timeout=keepalive)
        assert only_origin(config)["CustomOriginConfig"]["OriginReadTimeout"] == read
    else:
        with pytest.raises(DistributionConfigError, match="timeout"):
            ingest(origin_read_timeout=read, origin_keepalive_timeout=keepalive)


@pytest.mark.parametrize("name", sorted(FORBIDDEN_ORIGIN_HEADERS))
def test_forbidden_origin_headers_are_refused_case_insensitively(name: str) -> None:
    for variant in (name, name.upper(), name.title()):
        with pytest.raises(DistributionConfigError, match="cannot add"):
            ingest(extra_origin_headers={variant: "x"})


def test_the_documented_denylist_is_complete() -> None:
    documented = {
        "Cache-Control", "Connection", "Content-Length", "Cookie", "Host", "If-Match",
        "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
        "Max-Forwards", "Pragma", "Proxy-Authorization", "Proxy-Connection", "Range",
        "Request-Range", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Via", "X-Real-Ip",
    }
    assert {h.lower() for h in documented} == FORBIDDEN_ORIGIN_HEADERS


@pytest.mark.parametrize("name", ["X-Amz-Date", "x-amz-content-sha256", "X-Edge-Location"])
def test_x_amz_and_x_edge_prefixes_are_refused(name: str) -> None:
    with pytest.raises(DistributionConfigError, match="cannot add"):
        ingest(extra_origin_headers={name: "x"})


def test_allowed_extra_headers_are_added_after_user_agent() -> None:
    config = ingest(extra_origin_headers={"X-Origin-Verify": "v1", "Origin": "https://a.example"})
    assert list(headers(config)) == ["User-Agent", "X-Origin-Verify", "Origin"]
    assert_botocore_accepts("CreateDistribution", {"DistributionConfig": config})


def test_user_agent_is_allowed_but_not_twice() -> None:
    with pytest.raises(DistributionConfigError, match="twice"):
        ingest(extra_origin_headers={"user-agent": "other"})
    # Without a secret (OAC origin) a caller may set User-Agent themselves.
    config = ingest(secret=None, origin_access_control_id=OAC_ID,
                    extra_origin_headers={"User-Agent": "my-encoder"})
    assert headers(config) == {"User-Agent": "my-encoder"}


def test_header_limits_and_values_never_echoed() -> None:
    hidden = "TopSecretHeaderValue\n"
    with pytest.raises(DistributionConfigError) as info:
        ingest(extra_origin_headers={"X-Token": hidden})
    assert "TopSecret" not in str(info.value)
    with pytest.raises(DistributionConfigError, match="at most 10"):
        ingest(extra_origin_headers={f"X-H{i}": "v" for i in range(10)})
    with pytest.raises(DistributionConfigError, match="1783"):
        ingest(extra_origin_headers={"X-Long": "v" * 1784})
    with pytest.raises(DistributionConfigError, match="header name"):
        ingest(extra_origin_headers={"Bad Name": "v"})


_TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
_interesting = st.sampled_from(
    [*(h for h in FORBIDDEN_ORIGIN_HEADERS), "X-Amz-", "x-edge-", "User-Agent", "X-Custom"]
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.one_of(
        st.text(_TOKEN_CHARS, min_size=1, max_size=30),
        st.builds(lambda a, b: a + b, _interesting, st.text(_TOKEN_CHARS, max_size=5)),
        _interesting.map(str.swapcase),
    )
)
def test_header_name_accepted_iff_cloudfront_allows_it(name: str) -> None:
    lowered = name.lower()
    forbidden = lowered in FORBIDDEN_ORIGIN_HEADERS or lowered.startswith(("x-amz-", "x-edge-"))
    if forbidden or lowered == "user-agent":
        with pytest.raises(DistributionConfigError):
            ingest(extra_origin_headers={name: "v"})
    else:
        config = ingest(extra_origin_headers={name: "v"})
        assert headers(config)[name] == "v"
        assert_botocore_accepts("CreateDistribution", {"DistributionConfig": config})


# --- origin domains ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "https://" + MS_HOST,
        "http://" + MS_HOST + "/",
        MS_HOST + "/live",
        MS_HOST + ":443",
        "192.0.2.10",
        "localhost",
        "-bad.example.com",
        "a..example.com",
        "",
        "exa mple.com",
        "bücher.example",
    ],
)
def test_origin_domain_must_be_a_bare_host(bad: str) -> None:
    with pytest.raises(DistributionConfigError, match="origin_domain"):
        validate_origin_domain(bad)
    with pytest.raises(DistributionConfigError):
        ingest(origin_domain=bad)


def test_url_origin_error_says_what_to_pass() -> None:
    with pytest.raises(DistributionConfigError, match="drop the scheme"):
        ingest(origin_domain="https://" + MS_HOST)


def test_origin_domain_is_lowercased() -> None:
    assert validate_origin_domain(MS_HOST.upper() + ".") == MS_HOST
    assert only_origin(ingest(origin_domain=MS_HOST.upper()))["DomainName"] == MS_HOST


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        (MS_HOST, "mediastore"),
        (S3_HOST, "s3"),
        ("bucket.s3.amazonaws.com", "s3"),
        ("bucket.s3-us-west-2.amazonaws.com", "s3"),
        ("bucket.s3-website-us-east-1.amazonaws.com", "custom"),
        ("bucket.s3-website.eu-west-1.amazonaws.com", "custom"),
        ("origin.example.com", "custom"),
    ],
)
def test_detect_origin_type(host: str, kind: str) -> None:
    assert detect_origin_type(host) == kind


# --- playback ----------------------------------------------------------------------------


def test_playback_config() -> None:
    config = playback_distribution_config(
        origin_domain=MS_HOST, secret=PLAY_SECRET, caller_reference="ref-play",
        ingest_secret=SECRET,
    )
    assert_botocore_accepts("CreateDistribution", {"DistributionConfig": config})
    behavior = config["DefaultCacheBehavior"]
    assert behavior["AllowedMethods"]["Items"] == ["GET", "HEAD"]
    assert behavior["AllowedMethods"]["CachedMethods"]["Items"] == ["GET", "HEAD"]
    assert behavior["CachePolicyId"] == CACHING_OPTIMIZED_POLICY_ID
    assert "OriginRequestPolicyId" not in behavior
    assert behavior["TrustedKeyGroups"] == {"Enabled": False, "Quantity": 0}
    assert headers(config) == {"User-Agent": PLAY_SECRET.user_agent}

    signed = playback_distribution_config(
        origin_domain=MS_HOST, secret=PLAY_SECRET, caller_reference="ref-play",
        key_group_id="KG1EXAMPLE",
    )
    assert signed["DefaultCacheBehavior"]["TrustedKeyGroups"]["Items"] == ["KG1EXAMPLE"]


def test_playback_secret_must_differ_from_ingest_secret() -> None:
    with pytest.raises(DistributionConfigError, match="differ") as info:
        playback_distribution_config(
            origin_domain=MS_HOST, secret=IngestSecret(SECRET.value),
            caller_reference="ref-play", ingest_secret=SECRET,
        )
    assert SECRET.value not in str(info.value)


def test_playback_requires_secret_without_oac() -> None:
    with pytest.raises(DistributionConfigError, match="secret"):
        playback_distribution_config(origin_domain=MS_HOST, secret=None, caller_reference="r")


# --- origin access control ---------------------------------------------------------------


def test_origin_access_control_config_matches_botocore() -> None:
    for origin_type in ("s3", "mediastore"):
        config = origin_access_control_config("live-oac", origin_type=origin_type)  # type: ignore[arg-type]
        assert config["SigningBehavior"] == "always"
        assert config["SigningProtocol"] == "sigv4"
        assert config["OriginAccessControlOriginType"] == origin_type
        assert_botocore_accepts(
            "CreateOriginAccessControl", {"OriginAccessControlConfig": config}
        )
    with pytest.raises(DistributionConfigError):
        origin_access_control_config("x", origin_type="lambda")  # type: ignore[arg-type]
    with pytest.raises(DistributionConfigError):
        origin_access_control_config("")


def test_s3_origin_with_oac() -> None:
    config = ingest(origin_domain=S3_HOST, secret=None, origin_access_control_id=OAC_ID)
    origin = only_origin(config)
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    assert "CustomOriginConfig" not in origin
    assert origin["OriginAccessControlId"] == OAC_ID
    assert headers(config) == {}
    assert_botocore_accepts("CreateDistribution", {"DistributionConfig": config})


def test_s3_origin_without_oac_is_refused() -> None:
    with pytest.raises(DistributionConfigError, match="origin_access_control_id"):
        ingest(origin_domain=S3_HOST)


def test_mediastore_origin_with_oac_needs_no_secret() -> None:
    config = ingest(secret=None, origin_access_control_id=OAC_ID)
    origin = only_origin(config)
    assert origin["OriginAccessControlId"] == OAC_ID
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert_botocore_accepts("CreateDistribution", {"DistributionConfig": config})


def test_oac_on_custom_origin_is_refused() -> None:
    with pytest.raises(DistributionConfigError, match="only with S3 or MediaStore"):
        ingest(origin_domain="origin.example.com", origin_access_control_id=OAC_ID)


# --- other arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"caller_reference": ""}, "caller_reference"),
        ({"comment": "c" * 129}, "comment"),
        ({"price_class": "PriceClass_Cheap"}, "price_class"),
        ({"key_group_id": "not a key group"}, "key_group_id"),
        ({"origin_access_control_id": "lower-case"}, "origin_access_control_id"),
    ],
)
def test_bad_arguments(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(DistributionConfigError, match=match):
        ingest(**overrides)


def test_secret_lives_only_in_the_header() -> None:
    config = ingest()
    flat = repr({k: v for k, v in config.items() if k != "Origins"})
    assert SECRET.value not in flat
    assert SECRET.value in repr(config["Origins"])
