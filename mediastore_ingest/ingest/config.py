"""The settings of an ingest client: connections, TLS, retries, the origin's rules."""

from __future__ import annotations

import os
from typing import Any

import attrs

from mediastore_ingest._internal.redact import redact_userinfo
from mediastore_ingest._internal.show import shown
from mediastore_ingest._internal.validate import (
    Validator,
    instance_of,
    int_in,
    is_bool,
    number,
    one_line,
    optional,
)
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest._retry import RetryPolicy
from mediastore_ingest.ingest.media import CacheControlRule
from mediastore_ingest.ingest.transports.urllib3 import Urllib3Transport
from mediastore_ingest.origins import Origin, get_origin, origin_names

__all__ = ["DEFAULT_USER_AGENT", "IngestConfig", "connection_settings"]


def _default_user_agent() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"mediastore-ingest/{version('mediastore-ingest')}"
        except PackageNotFoundError:
            return "mediastore-ingest"
    except ImportError:  # pragma: no cover
        return "mediastore-ingest"


#: The ``User-Agent`` sent unless ``IngestConfig(user_agent=...)`` says otherwise.
DEFAULT_USER_AGENT = _default_user_agent()
MiB = 1024 * 1024

# A User-Agent may be an origin's secret (a container gated on it): refused values are
# named by type only.
_USER_AGENT = attrs.evolve(one_line(empty=False), show_value=False)
_CACHE_RULE = optional(
    Validator("a rule path -> Cache-Control (e.g. live_cache_control)", callable)
)
# The type only: a proxy URL given as bytes may carry a password.
_PROXY_URL = optional(instance_of(str))


def _optional_path(value: object) -> str | None:
    """``ca_bundle``: None, or a file path (``os.PathLike`` accepted, kept as str)."""
    if value is None:
        return None
    path = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(path, str) or not path:
        raise InvalidInputError(
            f"ca_bundle must be the path of a PEM file or None, not {shown(value)}"
        )
    return path


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _proxy_repr(value: str | None) -> str:
    """A proxy URL as a repr shows it: without its user name and password."""
    return repr(redact_userinfo(value) if isinstance(value, str) else value)


def _origin(value: object) -> str | Origin:
    """A registered origin's name, or an unregistered `Origin` as given."""
    origin = get_origin(value)  # type: ignore[arg-type]  # it refuses what is not one
    registered = origin.name in origin_names() and get_origin(origin.name) is origin
    return origin.name if registered else origin


@attrs.frozen
class IngestConfig:
    """Connection and retry settings of an
    [`IngestClient`][mediastore_ingest.ingest.IngestClient] (like botocore's ``Config``).

    Timeouts are seconds: ``connect_timeout`` (default 10) to open a connection,
    ``read_timeout`` (default 60) for each wait on the server; ``timeout=5`` sets both
    at once (as httpx's ``timeout=`` does), and cannot be given with either of them.
    ``ca_bundle`` is a PEM file of extra CAs (the local stack's); ``verify=False``
    turns TLS verification off (never in production). ``retry_buffer_limit`` is how
    many bytes of a streamed (generator) body are kept so it can be re-sent.
    ``cache_control`` is an optional rule ``path -> Cache-Control`` applied when
    ``put`` gets none (e.g.
    [`live_cache_control`][mediastore_ingest.ingest.live_cache_control]).
    ``content_sha256`` adds ``x-amz-content-sha256`` (hex SHA-256 of the body), which
    an S3 origin behind Origin Access Control requires for PUT. ``origin`` names the
    origin kind whose rules apply (the descriptions in `mediastore_ingest.origins`; a
    registered `Origin` given is kept as its name): ``"mediastore"`` (default:
    MediaStore paths and Content-Types, 25 MiB objects, 10 MiB streaming uploads,
    storage class and streaming uploads available) or ``"s3"`` (an S3 bucket behind
    OAC: S3 keys, any Content-Type, ``x-amz-content-sha256`` on every PUT; bodies that
    fit in ``retry_buffer_limit`` are read once and sent from memory; no streaming
    uploads, which S3 behind CloudFront cannot take). A wildcard policy is re-signed
    when it has less than ``policy_renew_margin`` seconds left.
    """

    @property
    def sends_content_sha256(self) -> bool:
        """True when every PUT carries ``x-amz-content-sha256``."""
        return self.content_sha256 or get_origin(self.origin).requires_content_sha256

    # ``timeout`` is read by the defaults of the two below, so it comes first; it is
    # keyword-only (the positional order is unchanged) and, being only a shorthand,
    # takes no part in equality or the repr.
    timeout: float | None = attrs.field(
        default=None, validator=optional(number()), kw_only=True, eq=False, repr=False
    )
    connect_timeout: float = attrs.field(
        default=attrs.Factory(lambda self: _or(self.timeout, 10.0), takes_self=True),
        validator=number(),
    )
    read_timeout: float = attrs.field(
        default=attrs.Factory(lambda self: _or(self.timeout, 60.0), takes_self=True),
        validator=number(),
    )
    max_pool_connections: int = attrs.field(default=10, validator=int_in(1))
    ca_bundle: str | None = attrs.field(default=None, converter=_optional_path)
    verify: bool = attrs.field(default=True, validator=is_bool())
    proxy_url: str | None = attrs.field(default=None, validator=_PROXY_URL, repr=_proxy_repr)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy, validator=instance_of(RetryPolicy))
    user_agent: str = attrs.field(default=DEFAULT_USER_AGENT, validator=_USER_AGENT)
    retry_buffer_limit: int = attrs.field(default=32 * MiB, validator=int_in(0))
    cache_control: CacheControlRule | None = attrs.field(default=None, validator=_CACHE_RULE)
    content_sha256: bool = attrs.field(default=False, validator=is_bool())
    origin: str | Origin = attrs.field(default="mediastore", converter=_origin)
    policy_renew_margin: float = attrs.field(default=60.0, validator=number())

    def __attrs_post_init__(self) -> None:
        timeout = self.timeout
        if timeout is not None and (self.connect_timeout, self.read_timeout) != (
            timeout,
            timeout,
        ):
            raise InvalidInputError(
                "timeout= sets both connect_timeout and read_timeout: give timeout, or "
                f"either of those, not both (timeout={timeout!r}, connect_timeout="
                f"{self.connect_timeout!r}, read_timeout={self.read_timeout!r})"
            )

    def make_transport(self) -> Urllib3Transport:
        """The default transport for these settings."""
        return Urllib3Transport(**connection_settings(self))


def connection_settings(config: IngestConfig) -> dict[str, Any]:
    """The settings every transport takes from ``config`` (timeouts, pool size, TLS,
    proxy), as keyword arguments."""
    return {
        "connect_timeout": config.connect_timeout,
        "read_timeout": config.read_timeout,
        "max_pool_connections": config.max_pool_connections,
        "verify": config.verify,
        "ca_bundle": config.ca_bundle,
        "proxy_url": config.proxy_url,
    }
