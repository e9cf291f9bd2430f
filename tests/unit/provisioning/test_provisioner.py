"""The provisioner's pure parts (no AWS): the setup record, the lifecycle and CORS
helpers, the spec's collections, the endpoint map, and what a failed AWS call chains."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from mediastore_ingest.errors import ProvisioningError
from mediastore_ingest.provisioning import (
    IngestSetup,
    Provisioner,
    live_cors_rules,
    live_lifecycle_policy,
)
from tests._support.provisioning import (
    REGION,
    FakeMediaStore,
    mediastore_spec,
    setup_document,
)


def test_an_error_without_a_secret_still_chains() -> None:
    error = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
        "DescribeContainer",
    )
    p = Provisioner(mediastore_client=FakeMediaStore(error), cloudfront_client=object())
    with pytest.raises(ProvisioningError) as info:
        p.plan(mediastore_spec())
    assert info.value.__cause__ is error


def test_ingest_setup_round_trip_still_works() -> None:
    setup = IngestSetup.from_json(setup_document(origin="s3"))
    assert setup.origin == "s3"
    assert IngestSetup.from_json(setup.to_json()) == setup


def test_a_single_str_is_one_item_not_its_characters() -> None:
    """``list("live/*")`` made six wildcards, one of them ``*`` (expire everything)."""
    rule = json.loads(live_lifecycle_policy(wildcards="live/*"))["rules"][0]
    assert rule["definition"]["path"] == [{"wildcard": "live/*"}]
    assert live_cors_rules("https://player.example")[0]["AllowedOrigins"] == [
        "https://player.example"
    ]


def test_collections_and_endpoint_maps_are_still_taken() -> None:
    """The input checks refuse only what was already broken."""
    spec = mediastore_spec(playback=False, container_tags=[("team", "video")])
    assert dict(spec.container_tags) == {"team": "video"}
    assert json.loads(live_lifecycle_policy(wildcards=("live/*", "vod/*")))["rules"]
    assert live_cors_rules(["https://player.example"])[0]["AllowedOrigins"] == [
        "https://player.example"
    ]
    Provisioner(region=REGION, endpoint_url="http://127.0.0.1:1")
    Provisioner(region=REGION, endpoint_url={"s3": "http://127.0.0.1:1"})
    # (service, URL) pairs, and None for "the default endpoint".
    Provisioner(region=REGION, endpoint_url=[("mediastore", "http://127.0.0.1:1")])
    Provisioner(region=REGION, endpoint_url={"mediastore": "http://127.0.0.1:1",
                                              "cloudfront": None})
