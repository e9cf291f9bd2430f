"""A third origin kind plugs into provisioning with one engine and one registration.

The origin here is a test-only kind, ``edge-cache``: an HTTPS origin that exists
already (its engine creates nothing, it adds one plan step) and gates writes with the
ingest secret's ``User-Agent`` header. The :class:`Provisioner` runs the steps every
origin shares — public key, key group, distributions — against moto's server on
127.0.0.1 (real HTTP), and the engine describes the origin in the setup record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import botocore.session
import pytest
from botocore.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins import MEDIASTORE, register_origin, unregister_origin
from mediastore_ingest.provisioning import IngestSetup, PlanStep, Provisioner, ProvisioningSpec
from mediastore_ingest.provisioning.aws import Aws
from mediastore_ingest.provisioning.engine import (
    Distribution,
    OriginEngine,
    Role,
    engine_for,
    register_engine,
    unregister_engine,
)
from tests._support.moto_server import moto_server

REGION = "us-west-2"
NAME = "edge-cache"
DOMAIN = "origin.example.com"
INGEST = IngestSecret("IngestSecretForEngineTests01234")
PLAYBACK = IngestSecret("PlaybackSecretForEngineTests987")
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                  read_timeout=30)
KEY = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
).decode()


@attrs.frozen
class Ready:
    domain: str = DOMAIN
    ready: bool = True


class EdgeCacheEngine(OriginEngine[Ready]):
    """An origin that exists already: nothing to make, a secret header to send."""

    origin = NAME
    label = "edge cache"
    resource = "cache"
    reference_prefix = "mediastore-ingest:edge-cache"

    def check_spec(self, spec: ProvisioningSpec) -> None:
        if spec.container_name is None or spec.ingest_secret is None:
            raise InvalidInputError("an edge cache needs container_name and ingest_secret")

    def name_of(self, spec: ProvisioningSpec) -> str:
        assert spec.container_name is not None
        return spec.container_name

    def secrets(self, spec: ProvisioningSpec) -> tuple[str, ...]:
        return tuple(s.value for s in (spec.ingest_secret, spec.playback_secret) if s)

    def prepare(self, aws: Aws, spec: ProvisioningSpec, execute: bool,
                steps: list[PlanStep]) -> Ready:
        steps.append(PlanStep("reuse", "edge cache", spec.name, "exists already"))
        return Ready()

    def distribution_options(self, spec: ProvisioningSpec, role: Role,
                             state: Ready) -> dict[str, Any]:
        if role == "ingest":
            return {"secret": spec.ingest_secret}
        return {"secret": spec.playback_secret, "ingest_secret": spec.ingest_secret}

    def origin_record(self, aws: Aws, spec: ProvisioningSpec, state: Ready,
                      ingest: Distribution) -> dict[str, Any]:
        return {
            "container_name": spec.name,
            "container_arn": f"arn:aws:example:{aws.region}::cache/{spec.name}",
            "container_endpoint": f"https://{state.domain}",
            "origin": self.origin,
        }


@pytest.fixture
def third_origin() -> Iterator[EdgeCacheEngine]:
    register_origin(attrs.evolve(MEDIASTORE, name=NAME, label="a test edge cache"))
    engine = EdgeCacheEngine()
    register_engine(engine)
    try:
        yield engine
    finally:
        unregister_engine(NAME)
        unregister_origin(NAME)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def edge_spec(**overrides: Any) -> ProvisioningSpec:
    fields: dict[str, Any] = {
        "origin": NAME, "container_name": "cache1", "public_key_pem": KEY,
        "ingest_secret": INGEST, "playback_secret": PLAYBACK,
    }
    fields.update(overrides)
    return ProvisioningSpec(**fields)


def test_the_spec_asks_the_engine(third_origin: EdgeCacheEngine) -> None:
    spec = edge_spec()
    assert spec.name == "cache1"
    assert spec.caller_reference("ingest") == "mediastore-ingest:edge-cache:cache1:ingest"
    assert spec.comment("playback") == "mediastore-ingest playback: cache1"
    with pytest.raises(InvalidInputError, match="edge cache needs"):
        edge_spec(container_name=None)


def test_a_third_origin_is_provisioned_by_its_engine(
    third_origin: EdgeCacheEngine, session: botocore.session.Session, moto_url: str
) -> None:
    p = Provisioner(session, region=REGION, endpoint_url=moto_url, client_config=NO_RETRY,
                    sleep=lambda _: None)
    plan = p.plan(edge_spec())
    assert str(plan).startswith(f"Plan for edge cache 'cache1' in {REGION}:")
    assert [(s.action, s.resource) for s in plan.steps] == [
        ("reuse", "edge cache"), ("create", "public key"), ("create", "key group"),
        ("create", "ingest distribution"), ("create", "playback distribution"),
    ]
    assert INGEST.value not in str(plan)

    done, setup = p.apply_with_plan(edge_spec())
    assert [s.action for s in done.steps] == [s.action for s in plan.steps]
    assert setup.origin == NAME
    assert setup.bucket_name is None
    assert setup.container_endpoint == f"https://{DOMAIN}"
    assert IngestSetup.from_json(setup.to_json()) == setup

    cf = session.create_client("cloudfront", region_name=REGION, endpoint_url=moto_url,
                               config=NO_RETRY)
    config = cf.get_distribution_config(Id=setup.ingest_distribution_id)["DistributionConfig"]
    origin = config["Origins"]["Items"][0]
    assert origin["DomainName"] == DOMAIN
    headers = {h["HeaderName"]: h["HeaderValue"] for h in origin["CustomHeaders"]["Items"]}
    assert headers["User-Agent"] == INGEST.user_agent
    assert config["CallerReference"] == "mediastore-ingest:edge-cache:cache1:ingest"

    assert p.plan(edge_spec()).is_noop  # a second run finds everything again


def test_an_origin_without_an_engine_cannot_be_provisioned() -> None:
    register_origin(attrs.evolve(MEDIASTORE, name="no-engine", label="an unprovisionable"))
    try:
        with pytest.raises(InvalidInputError, match="cannot be provisioned"):
            edge_spec(origin="no-engine")
        with pytest.raises(InvalidInputError, match="cannot be provisioned"):
            engine_for("no-engine")
    finally:
        unregister_origin("no-engine")


def test_an_engine_needs_a_known_origin_and_a_spec_a_known_name() -> None:
    class Nowhere(EdgeCacheEngine):
        origin = "nowhere"

    with pytest.raises(InvalidInputError, match="'mediastore' or 's3'"):
        register_engine(Nowhere())
    with pytest.raises(InvalidInputError, match="'mediastore' or 's3'"):
        edge_spec(origin="nowhere")
    with pytest.raises(InvalidInputError, match="origin"):
        edge_spec(origin=MEDIASTORE)  # the description itself: the field holds a name
    with pytest.raises(InvalidInputError, match="engine"):
        register_engine(object())  # type: ignore[arg-type]
