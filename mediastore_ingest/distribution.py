"""CloudFront ``DistributionConfig`` builders: the ingest distribution, the playback
distribution, and the Origin Access Control that signs origin requests.

Pure: every builder returns a plain ``dict`` shaped exactly as botocore's CloudFront
``create_distribution(DistributionConfig=...)`` /
``update_distribution(DistributionConfig=...)`` accept it; nothing here talks to AWS.
The ingest secret necessarily lives inside the returned dict (CloudFront must know it
to send it); it never appears in an error message raised here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import check, header_name, int_in, refusals_as
from mediastore_ingest.errors import DistributionConfigError
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins.arn import check_region
from mediastore_ingest.origins.base import get_origin
from mediastore_ingest.origins.s3 import check_bucket_name

__all__ = [
    "ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID",
    "CACHING_DISABLED_POLICY_ID",
    "CACHING_OPTIMIZED_POLICY_ID",
    "FORBIDDEN_ORIGIN_HEADERS",
    "INGEST_METHODS",
    "PLAYBACK_METHODS",
    "OriginType",
    "detect_origin_type",
    "ingest_distribution_config",
    "origin_access_control_config",
    "playback_distribution_config",
    "s3_origin_domain",
    "validate_origin_domain",
]

#: Managed cache policy *CachingDisabled* (same id in every account).
CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
#: Managed cache policy *CachingOptimized*.
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
#: Managed origin request policy *AllViewerExceptHostHeader*.
ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

#: Methods the ingest behaviour allows (CloudFront only accepts this full set with PUT).
INGEST_METHODS: tuple[str, ...] = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
#: Methods the playback behaviour allows.
PLAYBACK_METHODS: tuple[str, ...] = ("GET", "HEAD")
_CACHED_METHODS: tuple[str, ...] = ("GET", "HEAD")

#: Origin custom headers CloudFront refuses to add (compared case-insensitively);
#: any ``X-Amz-*`` and ``X-Edge-*`` header is refused as well.
FORBIDDEN_ORIGIN_HEADERS: frozenset[str] = frozenset(
    name.lower()
    for name in (
        "Cache-Control",
        "Connection",
        "Content-Length",
        "Cookie",
        "Host",
        "If-Match",
        "If-Modified-Since",
        "If-None-Match",
        "If-Range",
        "If-Unmodified-Since",
        "Max-Forwards",
        "Pragma",
        "Proxy-Authorization",
        "Proxy-Connection",
        "Range",
        "Request-Range",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Via",
        "X-Real-Ip",
    )
)
_FORBIDDEN_PREFIXES = ("x-amz-", "x-edge-")

# CloudFront quotas for origin custom headers.
_MAX_CUSTOM_HEADERS = 10
_MAX_HEADER_NAME = 256
_MAX_HEADER_VALUE = 1783
_MAX_COMMENT = 128
_MAX_OAC_NAME = 64

_HEADER_VALUE = re.compile(r"[\x20-\x7e]*\Z")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_KEY_GROUP_ID = re.compile(r"[A-Za-z0-9-]{1,128}\Z")
_OAC_ID = re.compile(r"[A-Z0-9]{1,128}\Z")
_PRICE_CLASSES = frozenset({"PriceClass_100", "PriceClass_200", "PriceClass_All", "None"})
_TIMEOUT_RANGE = (1, 60)

#: What kind of origin a distribution talks to.
OriginType = Literal["mediastore", "s3", "custom"]
_OAC_ORIGIN_TYPES = frozenset({"s3", "mediastore"})

_MEDIASTORE_HOST = re.compile(r"[a-z0-9]+\.data\.mediastore\.[a-z0-9-]+\.amazonaws\.com\Z")
# bucket.s3.amazonaws.com, bucket.s3.us-west-2.amazonaws.com, bucket.s3-us-west-2.amazonaws.com
_S3_REST_HOST = re.compile(r".+\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?\Z")
_S3_WEBSITE = re.compile(r"\.s3-website[.-]")


def validate_origin_domain(origin_domain: str) -> str:
    """Return ``origin_domain`` lower-cased if it is a bare DNS host name.

    A URL (``https://host/...``), a port, a path or an IP literal is refused with a
    ``DistributionConfigError`` that says what to pass instead; nothing is
    stripped silently, so a typo never provisions a distribution in front of the
    wrong host.
    """
    if not isinstance(origin_domain, str):
        raise DistributionConfigError(
            f"origin_domain must be a str, not {type_name(origin_domain)}"
        )
    if "://" in origin_domain:
        raise DistributionConfigError(
            f"origin_domain must be a bare host name, not a URL: {shown(origin_domain, limit=300)} "
            "(drop the scheme and any path, e.g. "
            "'abc123.data.mediastore.us-west-2.amazonaws.com')"
        )
    if any(ch in origin_domain for ch in "/:?#@ "):
        raise DistributionConfigError(
            f"origin_domain must be a bare host name without port, path or query: "
            f"{shown(origin_domain, limit=300)}"
        )
    host = origin_domain.lower()
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if (
        not host.isascii()
        or len(host) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise DistributionConfigError(
            f"origin_domain is not a valid DNS host name: {shown(origin_domain, limit=300)}"
        )
    return host


def detect_origin_type(origin_domain: str) -> OriginType:
    """Classify a (validated) origin host: MediaStore data endpoint, S3 REST, or custom.

    S3 *website* endpoints are custom origins (HTTP only, no OAC) and are reported
    as ``"custom"``.
    """
    host = validate_origin_domain(origin_domain)
    if _MEDIASTORE_HOST.match(host):
        return "mediastore"
    if _S3_REST_HOST.match(host) and not _S3_WEBSITE.search(host):
        return "s3"
    return "custom"


def s3_origin_domain(bucket: str, region: str) -> str:
    """The S3 REST endpoint of ``bucket`` to use as a CloudFront origin with an OAC:
    ``<bucket>.s3.<region>.amazonaws.com`` (``.amazonaws.com.cn`` in China).

    Regional, not the legacy global ``<bucket>.s3.amazonaws.com`` (which redirects
    outside us-east-1 for new buckets), and never the website endpoint, which OAC
    cannot sign for. Bucket names with dots are refused: the endpoint's TLS
    certificate (``*.s3.<region>.amazonaws.com``) covers one label only.
    """
    with refusals_as(DistributionConfigError):
        bucket = check_bucket_name(bucket)
    if "." in bucket:
        raise DistributionConfigError(
            f"bucket {bucket!r} has a dot in its name; its virtual-hosted HTTPS endpoint "
            "does not match S3's wildcard certificate: use a bucket name without dots"
        )
    with refusals_as(DistributionConfigError):
        check_region(region)
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{bucket}.s3.{region}.{suffix}"


def origin_access_control_config(
    name: str,
    *,
    origin_type: Literal["s3", "mediastore"] = "s3",
    description: str = "",
) -> dict[str, object]:
    """Build the ``OriginAccessControlConfig`` for ``create_origin_access_control``.

    The OAC always signs origin requests with SigV4 (``SigningBehavior: always``), so
    the origin can require ``Principal: {"Service": "cloudfront.amazonaws.com"}`` with an
    ``AWS:SourceArn`` condition instead of a shared secret.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= _MAX_OAC_NAME:
        raise DistributionConfigError(
            f"an origin access control name must be 1-{_MAX_OAC_NAME} characters"
        )
    if origin_type not in _OAC_ORIGIN_TYPES:
        raise DistributionConfigError(
            f"origin_type must be 's3' or 'mediastore', got {shown(origin_type)}"
        )
    if not isinstance(description, str) or len(description) > 256:
        raise DistributionConfigError("description must be a str of at most 256 characters")
    return {
        "Name": name,
        "Description": description,
        "SigningProtocol": "sigv4",
        "SigningBehavior": "always",
        "OriginAccessControlOriginType": origin_type,
    }


def ingest_distribution_config(
    *,
    origin_domain: str,
    secret: IngestSecret | None,
    key_group_id: str,
    caller_reference: str,
    comment: str = "mediastore-ingest: ingest distribution",
    price_class: str = "PriceClass_All",
    origin_read_timeout: int = 30,
    origin_keepalive_timeout: int = 5,
    extra_origin_headers: Mapping[str, str] | None = None,
    origin_access_control_id: str | None = None,
) -> dict[str, object]:
    """Build the ``DistributionConfig`` of the ingest distribution.

    The distribution allows ``GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE``, is
    reachable over HTTPS only and talks to the origin over HTTPS only (TLS 1.2), and
    trusts one key group, so every request needs a CloudFront signed URL or cookie set.

    ``secret`` becomes the origin custom header ``User-Agent:
    MediaStore-Secret-<secret>``, which the container policy requires for writes
    (required unless ``origin_access_control_id`` is given: an OAC signs the origin
    request with SigV4 instead, and the secret is optional). ``key_group_id``
    is the trusted key group whose keys sign encoder requests. The read (origin
    response) and keep-alive timeouts are seconds in 1-60.

    Caching: the behaviour uses the managed *CachingDisabled* cache policy with the
    managed *AllViewerExceptHostHeader* origin request policy rather than legacy
    ``ForwardedValues``. That forwards every viewer header (``Content-Type``,
    ``Cache-Control``, ``x-amz-*`` such as ``x-amz-content-sha256`` for S3/OAC, and
    ``Transfer-Encoding`` for chunked uploads), all cookies and the query string, yet
    not ``Host`` — CloudFront must send the origin's own host name or MediaStore/S3
    answer 403/404. ``ForwardedValues`` cannot express "all but Host", and
    ``ForwardedValues`` with ``Headers: *`` would forward ``Host`` too.
    """
    return _distribution_config(
        role="ingest",
        origin_domain=origin_domain,
        secret=secret,
        key_group_id=key_group_id,
        caller_reference=caller_reference,
        comment=comment,
        price_class=price_class,
        origin_read_timeout=origin_read_timeout,
        origin_keepalive_timeout=origin_keepalive_timeout,
        extra_origin_headers=extra_origin_headers,
        origin_access_control_id=origin_access_control_id,
    )


def playback_distribution_config(
    *,
    origin_domain: str,
    secret: IngestSecret | None,
    caller_reference: str,
    key_group_id: str | None = None,
    ingest_secret: IngestSecret | None = None,
    comment: str = "mediastore-ingest: playback distribution",
    price_class: str = "PriceClass_All",
    origin_read_timeout: int = 30,
    origin_keepalive_timeout: int = 5,
    extra_origin_headers: Mapping[str, str] | None = None,
    origin_access_control_id: str | None = None,
) -> dict[str, object]:
    """Build the ``DistributionConfig`` of the playback distribution (GET/HEAD only).

    ``secret`` is the playback distribution's own ``User-Agent`` secret (required
    unless ``origin_access_control_id`` is given). Pass ``ingest_secret`` too and the
    two are checked to differ: a playback distribution that knows the ingest secret
    would let anyone who can read also write. ``key_group_id`` makes playback require
    signed URLs/cookies; without it playback is public (through CloudFront only).
    Responses are cached with the managed *CachingOptimized* policy; no origin
    request policy, so CloudFront sends the origin's own ``Host``.
    """
    if secret is not None and ingest_secret is not None and secret.value == ingest_secret.value:
        raise DistributionConfigError(
            "the playback secret must differ from the ingest secret "
            "(otherwise a viewer of the playback distribution could write)"
        )
    return _distribution_config(
        role="playback",
        origin_domain=origin_domain,
        secret=secret,
        key_group_id=key_group_id,
        caller_reference=caller_reference,
        comment=comment,
        price_class=price_class,
        origin_read_timeout=origin_read_timeout,
        origin_keepalive_timeout=origin_keepalive_timeout,
        extra_origin_headers=extra_origin_headers,
        origin_access_control_id=origin_access_control_id,
    )


# --- internals -----------------------------------------------------------------------


def _check_timeout(name: str, value: int) -> int:
    with refusals_as(DistributionConfigError):
        return check(name, value, int_in(*_TIMEOUT_RANGE))


def _check_header_name(name: object) -> str:
    with refusals_as(DistributionConfigError):
        check("an origin custom header name", name, header_name(_MAX_HEADER_NAME))
    assert isinstance(name, str)
    lowered = name.lower()
    if lowered in FORBIDDEN_ORIGIN_HEADERS or lowered.startswith(_FORBIDDEN_PREFIXES):
        raise DistributionConfigError(
            f"CloudFront cannot add the origin custom header {name!r} "
            "(it is on CloudFront's list of headers it refuses to add)"
        )
    return name


def _custom_headers(
    secret: IngestSecret | None, extra: Mapping[str, str] | None
) -> dict[str, object]:
    items: list[dict[str, str]] = []
    seen: set[str] = set()
    if secret is not None:
        if not isinstance(secret, IngestSecret):
            raise DistributionConfigError(
                f"secret must be an IngestSecret, not {type_name(secret)}"
            )
        items.append({"HeaderName": "User-Agent", "HeaderValue": secret.user_agent})
        seen.add("user-agent")
    for name, value in (extra or {}).items():
        _check_header_name(name)
        if name.lower() in seen:
            raise DistributionConfigError(
                f"origin custom header {name!r} is given twice "
                "(User-Agent is set from the secret)"
            )
        # The value may be a secret too: never echo it.
        if not isinstance(value, str) or not value or not _HEADER_VALUE.match(value):
            raise DistributionConfigError(
                f"the value of origin custom header {name!r} must be a non-empty printable "
                "ASCII str"
            )
        if len(value) > _MAX_HEADER_VALUE:
            raise DistributionConfigError(
                f"the value of origin custom header {name!r} is longer than "
                f"{_MAX_HEADER_VALUE} characters"
            )
        seen.add(name.lower())
        items.append({"HeaderName": name, "HeaderValue": value})
    if len(items) > _MAX_CUSTOM_HEADERS:
        raise DistributionConfigError(
            f"CloudFront allows at most {_MAX_CUSTOM_HEADERS} origin custom headers, "
            f"got {len(items)}"
        )
    out: dict[str, object] = {"Quantity": len(items)}
    if items:
        out["Items"] = items
    return out


def _distribution_config(
    *,
    role: Literal["ingest", "playback"],
    origin_domain: str,
    secret: IngestSecret | None,
    key_group_id: str | None,
    caller_reference: str,
    comment: str,
    price_class: str,
    origin_read_timeout: int,
    origin_keepalive_timeout: int,
    extra_origin_headers: Mapping[str, str] | None,
    origin_access_control_id: str | None,
) -> dict[str, object]:
    host = validate_origin_domain(origin_domain)
    origin_type = detect_origin_type(host)
    if not isinstance(caller_reference, str) or not caller_reference.strip():
        raise DistributionConfigError("caller_reference must be a non-empty str")
    if not isinstance(comment, str) or len(comment) > _MAX_COMMENT:
        raise DistributionConfigError(
            f"comment must be a str of at most {_MAX_COMMENT} characters"
        )
    if price_class not in _PRICE_CLASSES:
        raise DistributionConfigError(
            f"price_class must be one of {sorted(_PRICE_CLASSES)}, got {shown(price_class)}"
        )
    read_timeout = _check_timeout("origin_read_timeout", origin_read_timeout)
    keepalive = _check_timeout("origin_keepalive_timeout", origin_keepalive_timeout)
    if role == "ingest" and key_group_id is None:
        raise DistributionConfigError("the ingest distribution needs a trusted key group id")
    if key_group_id is not None and (
        not isinstance(key_group_id, str) or not _KEY_GROUP_ID.match(key_group_id)
    ):
        raise DistributionConfigError(f"key_group_id is not a key group id: {shown(key_group_id)}")
    if origin_access_control_id is not None:
        if not isinstance(origin_access_control_id, str) or not _OAC_ID.match(
            origin_access_control_id
        ):
            raise DistributionConfigError(
                f"origin_access_control_id is not an OAC id: {shown(origin_access_control_id)}"
            )
        if origin_type == "custom":
            raise DistributionConfigError(
                f"an origin access control works only with S3 or MediaStore origins, "
                f"not {host!r}"
            )
    elif secret is None:
        raise DistributionConfigError(
            f"the {role} distribution needs a secret (the User-Agent origin header) "
            "unless it uses an origin access control"
        )
    kind = None if origin_type == "custom" else get_origin(origin_type)
    if kind is not None and kind.needs_origin_access_control and origin_access_control_id is None:
        raise DistributionConfigError(
            f"{kind.label} needs origin_access_control_id: its policy cannot require a "
            "User-Agent for writes the way MediaStore container policies do"
        )

    origin_id = f"{role}-origin"
    origin: dict[str, object] = {
        "Id": origin_id,
        "DomainName": host,
        "OriginPath": "",
        "CustomHeaders": _custom_headers(secret, extra_origin_headers),
        "ConnectionAttempts": 3,
        "ConnectionTimeout": 10,
        "OriginShield": {"Enabled": False},
    }
    if kind is not None and kind.cloudfront_s3_origin:
        # With an OAC the legacy origin access identity must be present and empty.
        origin["S3OriginConfig"] = {
            "OriginAccessIdentity": "",
            "OriginReadTimeout": read_timeout,
        }
    else:
        origin["CustomOriginConfig"] = {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "https-only",
            "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
            "OriginReadTimeout": read_timeout,
            "OriginKeepaliveTimeout": keepalive,
        }
    if origin_access_control_id is not None:
        origin["OriginAccessControlId"] = origin_access_control_id

    methods = INGEST_METHODS if role == "ingest" else PLAYBACK_METHODS
    trusted: dict[str, object] = {"Enabled": key_group_id is not None, "Quantity": 0}
    if key_group_id is not None:
        trusted = {"Enabled": True, "Quantity": 1, "Items": [key_group_id]}
    behavior: dict[str, object] = {
        "TargetOriginId": origin_id,
        "ViewerProtocolPolicy": "https-only",
        "TrustedKeyGroups": trusted,
        "AllowedMethods": {
            "Quantity": len(methods),
            "Items": list(methods),
            "CachedMethods": {"Quantity": len(_CACHED_METHODS), "Items": list(_CACHED_METHODS)},
        },
        "SmoothStreaming": False,
        # Media segments are already compressed; only playback manifests gain from it.
        "Compress": role == "playback",
        "CachePolicyId": (
            CACHING_DISABLED_POLICY_ID if role == "ingest" else CACHING_OPTIMIZED_POLICY_ID
        ),
    }
    if role == "ingest":
        behavior["OriginRequestPolicyId"] = ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID

    return {
        "CallerReference": caller_reference,
        "Aliases": {"Quantity": 0},
        "DefaultRootObject": "",
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": behavior,
        "CacheBehaviors": {"Quantity": 0},
        "CustomErrorResponses": {"Quantity": 0},
        "Comment": comment,
        "PriceClass": price_class,
        "Enabled": True,
        # With the default *.cloudfront.net certificate CloudFront ignores any
        # MinimumProtocolVersion, so none is set (it would never compare equal).
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
        "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
    }
