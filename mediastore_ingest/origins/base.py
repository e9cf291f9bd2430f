"""The origin seam: one description per origin kind, and the registry of kinds.

An ``Origin`` says everything the rest of the package needs to know about where
objects land: which paths and Content-Types it accepts, how large an object may be,
whether it takes a chunked (streaming) upload, which headers a PUT must carry, which
SigV4 service signs a request made straight to it, which policy guards it (and the
builder that writes one), the ARN its objects are matched by, and what its error
codes mean. The client, the relay, the local servers, the CLI and provisioning ask
the description; none of them asks "is this S3?".

Adding an origin kind is one module that builds an ``Origin`` and one call to
``register_origin``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.iam.document import ContainerPolicy

__all__ = ["Origin", "get_origin", "origin_names", "register_origin", "unregister_origin"]

_PUT_OPTIONS = frozenset({"storage_class", "upload_availability"})


def _hints(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


@attrs.frozen
class Origin:
    """What one origin kind requires of an ingest.

    - ``name``: the short name users pass (``IngestConfig(origin=...)``, ``--origin``).
    - ``label``: what it is, for messages ("an AWS Elemental MediaStore container").
    - ``validate_path(path) -> path``: raises
      ``InvalidPathError`` for a path it cannot store.
    - ``validate_content_type(content_type, *, path=None) -> content_type``: raises
      ``InvalidContentTypeError``.
    - ``max_object_bytes``: the largest object one PUT may store.
    - ``max_streaming_bytes``: the largest chunked (streaming) upload, or ``None`` if
      the origin takes no chunked upload (the length must be known before the body).
    - ``upload_deadline``: seconds an upload may take before the origin gives up on
      it, or ``None``.
    - ``requires_content_sha256``: every PUT carries ``x-amz-content-sha256`` (the hex
      SHA-256 of the body), as S3 behind Origin Access Control requires.
    - ``put_options``: which origin-specific PUT options it takes
      (``storage_class``, ``upload_availability``).
    - ``sigv4_service``: the SigV4 service name of its data plane (direct requests),
      which is also the prefix of its IAM actions (``mediastore:PutObject``).
    - ``error_hints``: error code → what it usually means and what to check.
    - ``policy_type``: the policy document that guards it
      (``ContainerPolicy`` or a subclass with
      the origin's own limits and lint), to parse and lint one with.
    - ``policy_builder``: the builder of that policy, or ``None``.
    - ``object_arn``: the function giving the ARN a policy ``Resource`` is matched
      against for one object, or ``None``; its arguments are the origin's own (a
      container's region, account and name; a bucket's name).
    - ``cloudfront_s3_origin``: CloudFront reaches it as an S3 origin
      (``S3OriginConfig``), not as a custom origin (``CustomOriginConfig``).
    - ``needs_origin_access_control``: its policy cannot require the ingest secret
      (``aws:UserAgent``), so only an Origin Access Control keeps out writes that do
      not come through the ingest distribution.
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    label: str
    validate_path: Callable[[object], str] = attrs.field(repr=False)
    validate_content_type: Callable[..., str] = attrs.field(repr=False)
    max_object_bytes: int
    max_streaming_bytes: int | None
    upload_deadline: float | None
    requires_content_sha256: bool
    put_options: frozenset[str] = attrs.field()
    sigv4_service: str
    error_hints: Mapping[str, str] = attrs.field(factory=dict, converter=_hints, repr=False)
    policy_type: type[ContainerPolicy] = attrs.field(default=ContainerPolicy, repr=False)
    policy_builder: type | None = attrs.field(default=None, repr=False)
    object_arn: Callable[..., str] | None = attrs.field(default=None, repr=False)
    cloudfront_s3_origin: bool = attrs.field(default=False, repr=False)
    needs_origin_access_control: bool = attrs.field(default=False, repr=False)

    @put_options.validator
    def _check_put_options(self, attribute: object, value: frozenset[str]) -> None:
        if not value <= _PUT_OPTIONS:
            raise InvalidInputError(
                f"put_options may hold {sorted(_PUT_OPTIONS)}, not {sorted(value - _PUT_OPTIONS)}"
            )

    @property
    def streams(self) -> bool:
        """True if the origin takes chunked (streaming) uploads."""
        return self.max_streaming_bytes is not None

    def size_limit(self, *, streaming: bool) -> int:
        """The largest object an upload of this kind may store."""
        if streaming and self.max_streaming_bytes is not None:
            return self.max_streaming_bytes
        return self.max_object_bytes

    def hint_for(self, code: str | None) -> str | None:
        """What error ``code`` from this origin usually means, or ``None``."""
        return None if code is None else self.error_hints.get(code)


_REGISTRY: dict[str, Origin] = {}


def register_origin(origin: Origin, *, replace: bool = False) -> Origin:
    """Make ``origin`` known by its name; a name already taken needs ``replace``."""
    if not isinstance(origin, Origin):
        raise InvalidInputError(f"origin must be an Origin, not {type_name(origin)}")
    if origin.name in _REGISTRY and not replace and _REGISTRY[origin.name] is not origin:
        raise InvalidInputError(f"an origin named {origin.name!r} is registered already")
    _REGISTRY[origin.name] = origin
    return origin


def unregister_origin(name: str) -> None:
    """Forget the origin registered as ``name`` (tests that register their own)."""
    _REGISTRY.pop(name, None)


def origin_names() -> tuple[str, ...]:
    """The names of the registered origin kinds, in registration order."""
    return tuple(_REGISTRY)


def get_origin(origin: str | Origin) -> Origin:
    """The description registered as ``origin`` (an ``Origin`` is returned as is)."""
    if isinstance(origin, Origin):
        return origin
    found = _REGISTRY.get(origin) if isinstance(origin, str) else None
    if found is None:
        known = " or ".join(repr(n) for n in _REGISTRY)
        raise InvalidInputError(f"origin must be {known}, not {shown(origin)}")
    return found
