"""The origin seam: the registry of origin kinds, and what each description says."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from mediastore_ingest.errors import (
    InvalidContentTypeError,
    InvalidInputError,
    InvalidPathError,
)
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins import (
    MEDIASTORE,
    S3,
    BucketPolicy,
    BucketPolicyBuilder,
    ContainerPolicyBuilder,
    Origin,
    get_origin,
    origin_names,
    register_origin,
    unregister_origin,
)
from mediastore_ingest.origins.arn import (
    check_account_id,
    check_partition,
    check_region,
    distribution_arn,
    is_distribution_arn,
    is_distribution_id,
    region_partition,
)
from mediastore_ingest.origins.mediastore import (
    check_container_name,
    container_arn,
    mediastore_object_arn,
)
from mediastore_ingest.origins.s3 import s3_object_arn

ACCOUNT = "111122223333"


def _check_path(path: object) -> str:
    if not isinstance(path, str) or not path.startswith("ch/"):
        raise InvalidPathError(f"not a channel path: {path!r}")
    return path


def _check_content_type(content_type: object, *, path: str | None = None) -> str:
    if content_type != "video/mp2t":
        raise InvalidContentTypeError("MPEG-TS only", path=path)
    return content_type


def _tiny(name: str = "tiny", **changes: object) -> Origin:
    """A third origin kind, defined in the test: one module and one registration."""
    fields: dict[str, object] = {
        "name": name,
        "label": "a test origin",
        "validate_path": _check_path,
        "validate_content_type": _check_content_type,
        "max_object_bytes": 1000,
        "max_streaming_bytes": None,
        "upload_deadline": None,
        "requires_content_sha256": False,
        "put_options": frozenset(),
        "sigv4_service": "tiny",
        "error_hints": {"Nope": "the test origin said no"},
    }
    fields.update(changes)
    return Origin(**fields)  # type: ignore[arg-type]


@pytest.fixture
def tiny() -> Iterator[Origin]:
    origin = register_origin(_tiny())
    try:
        yield origin
    finally:
        unregister_origin("tiny")


# --- the registry ---------------------------------------------------------------------


def test_the_two_kinds_are_registered_by_name() -> None:
    assert origin_names()[:2] == ("mediastore", "s3")
    assert get_origin("mediastore") is MEDIASTORE
    assert get_origin("s3") is S3


def test_an_origin_is_returned_as_it_is(tiny: Origin) -> None:
    assert get_origin(MEDIASTORE) is MEDIASTORE
    unregistered = _tiny("elsewhere")
    assert get_origin(unregistered) is unregistered  # no registration needed


def test_a_third_kind_is_one_registration(tiny: Origin) -> None:
    assert "tiny" in origin_names()
    assert get_origin("tiny") is tiny
    assert tiny.validate_path("ch/seg1.ts") == "ch/seg1.ts"
    with pytest.raises(InvalidPathError):
        tiny.validate_path("live/seg1.ts")
    assert tiny.hint_for("Nope") == "the test origin said no"


@pytest.mark.parametrize("name", ["gcs", "", "S3", None, 3, b"s3"])
def test_an_unknown_name_is_refused_naming_the_known_ones(name: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        get_origin(name)  # type: ignore[arg-type]
    message = str(info.value)
    assert "'mediastore'" in message
    assert "'s3'" in message


def test_the_refusal_names_a_kind_registered_later(tiny: Origin) -> None:
    with pytest.raises(InvalidInputError, match="'tiny'"):
        get_origin("gcs")


def test_registering_the_same_description_twice_is_harmless(tiny: Origin) -> None:
    assert register_origin(tiny) is tiny
    assert origin_names().count("tiny") == 1


def test_a_taken_name_needs_replace(tiny: Origin) -> None:
    other = _tiny(max_object_bytes=5)
    with pytest.raises(InvalidInputError, match="registered already"):
        register_origin(other)
    assert get_origin("tiny") is tiny
    assert register_origin(other, replace=True) is other
    assert get_origin("tiny") is other


def test_the_built_in_kinds_cannot_be_taken_over_by_accident() -> None:
    with pytest.raises(InvalidInputError, match="registered already"):
        register_origin(_tiny("s3"))
    assert get_origin("s3") is S3


def test_unregister_forgets_a_kind(tiny: Origin) -> None:
    unregister_origin("tiny")
    assert "tiny" not in origin_names()
    with pytest.raises(InvalidInputError):
        get_origin("tiny")
    unregister_origin("tiny")  # forgetting twice is fine


@pytest.mark.parametrize("value", ["s3", None, object()])
def test_only_an_origin_can_be_registered(value: object) -> None:
    with pytest.raises(InvalidInputError, match="must be an Origin"):
        register_origin(value)  # type: ignore[arg-type]


def test_put_options_are_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="put_options"):
        _tiny(put_options=frozenset({"acl"}))


def test_a_description_is_immutable_and_copies_its_hints() -> None:
    hints = {"Nope": "no"}
    origin = _tiny(error_hints=hints)
    hints["Nope"] = "changed"
    assert origin.hint_for("Nope") == "no"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        origin.max_object_bytes = 1  # type: ignore[misc]


def test_a_description_needs_no_policy_builder() -> None:
    origin = _tiny()
    assert origin.policy_type is ContainerPolicy
    assert origin.policy_builder is None
    assert origin.object_arn is None


# --- MediaStore -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "seg1.ts",
        "live/ch1/seg-1_a.b~c.ts",
        "/".join(["f"] * 10) + "/file",  # ten folders and a file name
        "a" * 900,
    ],
)
def test_mediastore_takes_these_paths(path: str) -> None:
    assert MEDIASTORE.validate_path(path) == path


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("/live/seg1.ts", "no leading '/'"),
        ("/".join(["f"] * 11) + "/file", "at most 10 folders"),
        ("live//seg1.ts", "empty folder or file name"),
        ("live/", "empty folder or file name"),
        ("", "empty folder or file name"),
        ("live/seg 1.ts", "only letters, digits"),
        ("live/é.ts", "only letters, digits"),
        ("live/../seg1.ts", "'.' and '..' are not names"),
        ("a" * 901, "at most 900"),
    ],
)
def test_mediastore_refuses_these_paths_saying_why(path: str, hint: str) -> None:
    with pytest.raises(InvalidPathError, match=hint.replace("(", r"\(")):
        MEDIASTORE.validate_path(path)


def test_mediastore_refuses_a_path_that_is_not_a_str() -> None:
    with pytest.raises(InvalidPathError, match="must be a str, not bytes"):
        MEDIASTORE.validate_path(b"live/seg1.ts")


@pytest.mark.parametrize("content_type", ["video/mp2t", "application/vnd.apple.mpegurl",
                                          "audio/mp4", "application/dash+xml"])
def test_mediastore_takes_plain_content_types(content_type: str) -> None:
    assert MEDIASTORE.validate_content_type(content_type) == content_type


@pytest.mark.parametrize(
    "content_type",
    ["video/mp4; codecs=avc1", "text/plain;charset=utf-8", "", "a" * 256, "vidéo/mp4", None],
)
def test_mediastore_refuses_parameters_and_odd_content_types(content_type: object) -> None:
    with pytest.raises(InvalidContentTypeError) as info:
        MEDIASTORE.validate_content_type(content_type, path="live/seg1.ts")
    assert info.value.path == "live/seg1.ts"


def test_mediastore_limits_and_streaming() -> None:
    assert MEDIASTORE.max_object_bytes == 25 * 1024 * 1024
    assert MEDIASTORE.streams
    assert MEDIASTORE.max_streaming_bytes == 10 * 1024 * 1024
    assert MEDIASTORE.size_limit(streaming=False) == 25 * 1024 * 1024
    assert MEDIASTORE.size_limit(streaming=True) == 10 * 1024 * 1024
    assert MEDIASTORE.upload_deadline == 30.0
    assert not MEDIASTORE.requires_content_sha256
    assert MEDIASTORE.put_options == {"storage_class", "upload_availability"}
    assert MEDIASTORE.sigv4_service == "mediastore"
    # CloudFront reaches it as a custom origin; its policy can require the secret
    assert not MEDIASTORE.cloudfront_s3_origin
    assert not MEDIASTORE.needs_origin_access_control


def test_mediastore_error_meanings() -> None:
    assert "User-Agent secret" in (MEDIASTORE.hint_for("AccessDeniedException") or "")
    assert "25 MiB" in (MEDIASTORE.hint_for("RequestEntityTooLargeException") or "")
    assert "chunked" in (MEDIASTORE.hint_for("ValidationException") or "")
    assert MEDIASTORE.hint_for("NoSuchKey") is None  # S3's code, not MediaStore's
    assert MEDIASTORE.hint_for(None) is None


def test_mediastore_policy_and_arns() -> None:
    assert MEDIASTORE.policy_type is ContainerPolicy
    assert MEDIASTORE.policy_builder is ContainerPolicyBuilder
    assert MEDIASTORE.object_arn is mediastore_object_arn
    builder = ContainerPolicyBuilder(region="us-west-2", account_id=ACCOUNT, container="live")
    policy = builder.allow_cloudfront_ingest(IngestSecret.generate()).build()
    assert isinstance(policy, MEDIASTORE.policy_type)
    assert builder.resource == "arn:aws:mediastore:us-west-2:111122223333:container/live/*"
    assert mediastore_object_arn("us-west-2", ACCOUNT, "live", "/a/b.ts") == (
        "arn:aws:mediastore:us-west-2:111122223333:container/live/a/b.ts"
    )
    assert container_arn("cn-north-1", ACCOUNT, "live").startswith("arn:aws-cn:mediastore:")
    assert container_arn("us-gov-west-1", ACCOUNT, "c_1-x").startswith("arn:aws-us-gov:")


@pytest.mark.parametrize("name", ["", "a b", "a/b", "a" * 256, None, "é"])
def test_mediastore_container_names(name: object) -> None:
    with pytest.raises(InvalidInputError, match="container must be 1-255"):
        check_container_name(name)
    assert check_container_name("live_1-a") == "live_1-a"


def test_a_container_name_holding_a_secret_is_not_shown() -> None:
    secret = IngestSecret.generate()
    with pytest.raises(InvalidInputError) as info:
        check_container_name(secret.user_agent + "/")
    assert secret.value not in str(info.value)


# --- S3 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["seg1.ts", "live/ch 1/seg é.ts", "a" * 1024, "é" * 512, "live/(1)!*'.ts"],
)
def test_s3_takes_these_keys(key: str) -> None:
    assert S3.validate_path(key) == key


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("", "1-1024"),
        ("a" * 1025, "1-1024"),
        ("é" * 513, "1-1024"),  # 1026 bytes of UTF-8
        ("live/\nseg.ts", "control character"),
        ("live/\x7fseg.ts", "control character"),
        ("live/\ud800.ts", "control character"),
        ("/live/seg1.ts", "no leading '/'"),
        ("live//seg1.ts", "empty"),
        ("live/./seg1.ts", "'.' or '..'"),
        ("live/../seg1.ts", "'.' or '..'"),
    ],
)
def test_s3_refuses_keys_it_would_not_store_as_signed(key: str, hint: str) -> None:
    with pytest.raises(InvalidPathError, match=hint.replace("(", r"\(")):
        S3.validate_path(key)


@pytest.mark.parametrize(
    "content_type", ["video/mp4; codecs=\"avc1.64001f\"", "text/plain;charset=utf-8", "a/b"]
)
def test_s3_takes_content_types_with_parameters(content_type: str) -> None:
    assert S3.validate_content_type(content_type) == content_type


@pytest.mark.parametrize(
    "content_type", ["", "plain", "video/mp4\r\nX: 1", "vidéo/mp4", "a/" + "b" * 254, None]
)
def test_s3_refuses_content_types_that_are_no_header_value(content_type: object) -> None:
    with pytest.raises(InvalidContentTypeError):
        S3.validate_content_type(content_type)


def test_s3_limits_and_headers() -> None:
    assert S3.max_object_bytes == 5 * 1024**3
    assert not S3.streams
    assert S3.max_streaming_bytes is None
    assert S3.size_limit(streaming=True) == S3.size_limit(streaming=False) == 5 * 1024**3
    assert S3.upload_deadline is None
    assert S3.requires_content_sha256
    assert S3.put_options == frozenset()
    assert S3.sigv4_service == "s3"
    # an S3 origin to CloudFront, and a bucket policy cannot require the secret
    assert S3.cloudfront_s3_origin
    assert S3.needs_origin_access_control


def test_s3_error_meanings() -> None:
    assert "x-amz-content-sha256" in (S3.hint_for("XAmzContentSHA256Mismatch") or "")
    assert "AWS:SourceArn" in (S3.hint_for("AccessDenied") or "")
    assert "Content-Length" in (S3.hint_for("MissingContentLength") or "")
    assert "multipart" in (S3.hint_for("EntityTooLarge") or "")
    assert S3.hint_for("AccessDeniedException") is None  # MediaStore's code


def test_s3_policy_and_arns() -> None:
    assert S3.policy_type is BucketPolicy
    assert S3.policy_builder is BucketPolicyBuilder
    assert S3.object_arn is s3_object_arn
    ingest = distribution_arn(ACCOUNT, "EINGEST1")
    policy = (
        BucketPolicyBuilder(bucket="live-media", account_id=ACCOUNT)
        .allow_cloudfront_ingest(ingest)
        .build()
    )
    assert isinstance(policy, S3.policy_type)
    assert s3_object_arn("live-media", "/a/b.ts") == "arn:aws:s3:::live-media/a/b.ts"
    assert s3_object_arn("live-media", "k", partition="aws-cn") == "arn:aws-cn:s3:::live-media/k"


# --- ARNs and the names in them -----------------------------------------------------


def test_arn_names() -> None:
    assert check_region("eu-central-1") == "eu-central-1"
    assert check_account_id(ACCOUNT) == ACCOUNT
    assert check_partition("aws-us-gov") == "aws-us-gov"
    assert region_partition("cn-northwest-1") == "aws-cn"
    assert region_partition("us-gov-east-1") == "aws-us-gov"
    assert region_partition("us-west-2") == "aws"
    assert distribution_arn(ACCOUNT, "E2EXAMPLE", partition="aws-cn") == (
        "arn:aws-cn:cloudfront::111122223333:distribution/E2EXAMPLE"
    )
    assert is_distribution_id("E2EXAMPLE")
    assert not is_distribution_id("e2example")
    assert is_distribution_arn("arn:aws:cloudfront::111122223333:distribution/E2EXAMPLE")
    assert not is_distribution_arn("arn:aws:cloudfront::1111:distribution/E2EXAMPLE")
    assert not is_distribution_arn(None)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: check_region("US-WEST-2"), "region must look like"),
        (lambda: check_region(None), "region must look like"),
        (lambda: check_account_id("1234"), "account_id must be 12 digits"),
        (lambda: check_partition("aws-iso"), "partition must be one of"),
        (lambda: distribution_arn(ACCOUNT, "e2example"), "not a CloudFront distribution id"),
        (lambda: distribution_arn("x", "E2EXAMPLE"), "account_id"),
    ],
)
def test_arn_names_refused(call: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()  # type: ignore[operator]
