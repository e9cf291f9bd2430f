"""Values for provisioning tests that need no AWS: a public key, two ingest secrets, a
minimal spec, a setup document, and a stand-in for a botocore MediaStore client."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.provisioning import ProvisioningSpec

REGION = "us-west-2"
SECRET = IngestSecret("KnownIngestSecretValue0123456789abcdef")
OTHER = IngestSecret("KnownPlaybackSecretValue9876543210zyxwv")
PUBLIC_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


class FakeMediaStore:
    """Stands in for a botocore MediaStore client: DescribeContainer fails with ``error``."""

    meta = SimpleNamespace(region_name=REGION)

    def __init__(self, error: Exception) -> None:
        self._error = error

    def describe_container(self, **params: object) -> dict[str, Any]:
        raise self._error


def mediastore_spec(*, playback: bool = True, **overrides: Any) -> ProvisioningSpec:
    """A MediaStore spec: both secrets, or no playback distribution (``overrides``
    replace its fields)."""
    fields: dict[str, Any] = {
        "container_name": "live", "public_key_pem": PUBLIC_PEM, "ingest_secret": SECRET,
    }
    fields.update({"playback_secret": OTHER} if playback else {"playback": False})
    fields.update(overrides)
    return ProvisioningSpec(**fields)


def setup_document(**overrides: object) -> str:
    """The JSON of a setup record with every required field (``overrides`` added)."""
    doc: dict[str, object] = {
        "format": "mediastore-ingest/setup", "version": 1,
        **dict.fromkeys((
            "container_name", "container_arn", "container_endpoint", "region",
            "public_key_id", "key_group_id", "ingest_distribution_id",
            "ingest_distribution_domain"), "x"),
    }
    doc.update(overrides)
    return json.dumps(doc)
