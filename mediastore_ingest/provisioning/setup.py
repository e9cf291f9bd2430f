"""The setup record: the identifiers of a provisioned ingest setup, as a JSON file.

``mediastore-ingest provision`` writes it; the other commands read it. It holds no
secret, only references to where the secrets live.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import optional, text
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.provisioning.engine import check_origin, engine_for

__all__ = ["IngestSetup"]

_SETUP_FORMAT = "mediastore-ingest/setup"
_SETUP_VERSION = 1

# attrs takes a field's type from its validator: these are typed to take any value.
_required: Callable[[Any, Any, Any], None] = text()
_optional: Callable[[Any, Any, Any], None] = optional(text(empty=True))


@attrs.frozen
class IngestSetup:
    """The identifiers of a provisioned ingest setup, for other commands to read.

    It holds no secret. ``ingest_secret_ref`` / ``playback_secret_ref`` are optional
    free-form *references* to where the secrets live (the CLI writes ``env:VAR``);
    the secret values themselves are never stored here.

    For an S3 origin (``origin="s3"``) ``container_name``, ``container_arn`` and
    ``container_endpoint`` hold the bucket's name, ARN and REST endpoint
    (``https://<bucket>.s3.<region>.amazonaws.com``), and
    ``origin_access_control_id`` the OAC both distributions sign with.
    """

    container_name: str = attrs.field(validator=_required)
    container_arn: str = attrs.field(validator=_required)
    container_endpoint: str = attrs.field(validator=_required)
    region: str = attrs.field(validator=_required)
    public_key_id: str = attrs.field(validator=_required)
    key_group_id: str = attrs.field(validator=_required)
    ingest_distribution_id: str = attrs.field(validator=_required)
    ingest_distribution_domain: str = attrs.field(validator=_required)
    playback_distribution_id: str | None = attrs.field(default=None, validator=_optional)
    playback_distribution_domain: str | None = attrs.field(default=None, validator=_optional)
    account_id: str | None = attrs.field(default=None, validator=_optional)
    ingest_secret_ref: str | None = attrs.field(default=None, validator=_optional)
    playback_secret_ref: str | None = attrs.field(default=None, validator=_optional)
    origin: str = attrs.field(default="mediastore", validator=check_origin)
    origin_access_control_id: str | None = attrs.field(default=None, validator=_optional)

    @property
    def bucket_name(self) -> str | None:
        """The S3 bucket name for an S3 origin, else ``None``."""
        return self.container_name if engine_for(self.origin).resource == "bucket" else None

    @property
    def ingest_base_url(self) -> str:
        """``https://<ingest distribution domain>``: where encoders send signed PUTs."""
        return f"https://{self.ingest_distribution_domain}"

    @property
    def playback_base_url(self) -> str | None:
        """``https://<playback distribution domain>``, when there is one."""
        if self.playback_distribution_domain is None:
            return None
        return f"https://{self.playback_distribution_domain}"

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON (with a ``format``/``version`` header)."""
        doc: dict[str, object] = {"format": _SETUP_FORMAT, "version": _SETUP_VERSION}
        doc.update(attrs.asdict(self))
        return json.dumps(doc, indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> IngestSetup:
        """Parse what ``to_json`` wrote; unknown keys are ignored."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise InvalidInputError(
                f"an ingest setup must be JSON text (str or bytes), got {type_name(text)}"
            )
        doc = strict_loads(text, error=InvalidInputError, what="an ingest setup")
        if not isinstance(doc, dict) or doc.get("format") != _SETUP_FORMAT:
            raise InvalidInputError(f"not an ingest setup document (format {_SETUP_FORMAT!r})")
        version = doc.get("version")
        if version != _SETUP_VERSION:
            raise InvalidInputError(
                f"unsupported ingest setup version {shown(version, limit=16)} "
                f"(this library reads version {_SETUP_VERSION})"
            )
        fields = attrs.fields(cls)
        missing = [f.name for f in fields if f.default is attrs.NOTHING and f.name not in doc]
        if missing:
            raise InvalidInputError(f"ingest setup lacks {', '.join(missing)}")
        return cls(**{f.name: doc[f.name] for f in fields if f.name in doc})
