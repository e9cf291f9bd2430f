"""Provisioning end to end against moto's server on 127.0.0.1 (real HTTP), plus the CLI.

moto 5 implements MediaStore containers, container and lifecycle policies, and
CloudFront distributions, public keys and key groups. It does **not** implement
MediaStore ``GetCorsPolicy``/``PutCorsPolicy`` nor CloudFront ``UpdateKeyGroup``.
Those operations alone are answered inside the test through botocore's ``before-call``
event — the hook :class:`botocore.stub.Stubber` itself uses — by :func:`answer_locally`;
every other call of the same client still goes over HTTP to moto. Error translation
is checked with :class:`botocore.stub.Stubber` proper.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import mediastore_ingest.cli as cli_package
from mediastore_ingest.cli import main as cli_main
from mediastore_ingest.errors import (
    DistributionConfigError,
    InvalidInputError,
    ProvisioningError,
)
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.provisioning import (
    IngestSetup,
    Plan,
    Provisioner,
    ProvisioningSpec,
    live_cors_rules,
    live_lifecycle_policy,
    secret_gated_container_policy,
)
from tests._support import VECTORS
from tests._support.moto_server import MOTO_ACCOUNT_ID, moto_server

REGION = "us-west-2"
INGEST = IngestSecret("IngestSecretForTests0123456789")
PLAYBACK = IngestSecret("PlaybackSecretForTests98765432")
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                  read_timeout=30)


def public_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


KEY_A = public_key_pem()
KEY_B = public_key_pem()


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


class Probe:
    """Independent clients on the same moto server, to look at what really exists."""

    def __init__(self, session: botocore.session.Session, url: str) -> None:
        self.ms = session.create_client("mediastore", region_name=REGION, endpoint_url=url,
                                        config=NO_RETRY)
        self.cf = session.create_client("cloudfront", region_name=REGION, endpoint_url=url,
                                        config=NO_RETRY)

    def counts(self) -> dict[str, int]:
        return {
            "containers": len(self.ms.list_containers()["Containers"]),
            "public keys": self.cf.list_public_keys()["PublicKeyList"]["Quantity"],
            "key groups": self.cf.list_key_groups()["KeyGroupList"]["Quantity"],
            "distributions": self.cf.list_distributions()["DistributionList"]["Quantity"],
        }

    def dist_config(self, dist_id: str) -> dict[str, Any]:
        config: dict[str, Any] = self.cf.get_distribution_config(Id=dist_id)["DistributionConfig"]
        return config


@pytest.fixture
def probe(session: botocore.session.Session, aws: str) -> Probe:
    return Probe(session, aws)


def answer_locally(client: Any, operation: str, answer: Callable[[dict[str, Any]], Any]) -> None:
    """Answer one operation moto lacks inside the test (see the module docstring).

    ``answer(params)`` gets the API parameters and returns the parsed response dict,
    or a ``(status, error_code)`` tuple for an AWS error.
    """
    service = client.meta.service_model.service_name
    seen: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    def respond(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        result = answer(seen.pop())
        if isinstance(result, tuple):
            status, code = result
            body = {"Error": {"Code": code, "Message": code},
                    "ResponseMetadata": {"HTTPStatusCode": status}}
            return AWSResponse("http://127.0.0.1/", status, {}, None), body
        return AWSResponse("http://127.0.0.1/", 200, {}, None), result

    client.meta.events.register(f"before-parameter-build.{service}.{operation}", capture)
    client.meta.events.register(f"before-call.{service}.{operation}", respond)


class LocalCors:
    """MediaStore CORS policies kept in the test (moto has no CORS operations)."""

    def __init__(self) -> None:
        self.policies: dict[str, list[dict[str, Any]]] = {}
        self.puts = 0

    def install(self, client: Any) -> None:
        def get(params: dict[str, Any]) -> Any:
            name = params["ContainerName"]
            if name not in self.policies:
                return (400, "CorsPolicyNotFoundException")
            return {"CorsPolicy": self.policies[name]}

        def put(params: dict[str, Any]) -> Any:
            self.puts += 1
            self.policies[params["ContainerName"]] = params["CorsPolicy"]
            return {}

        answer_locally(client, "GetCorsPolicy", get)
        answer_locally(client, "PutCorsPolicy", put)


def provisioner(session: botocore.session.Session, url: str, **kw: Any) -> Provisioner:
    """A provisioner building its own clients from ``session`` (the usual path)."""
    sleeps: list[float] = []
    kw.setdefault("sleep", sleeps.append)
    return Provisioner(session, region=REGION, endpoint_url=url, client_config=NO_RETRY, **kw)


def moto_clients(session: botocore.session.Session, url: str) -> tuple[Any, Any]:
    """Explicit (mediastore, cloudfront) clients on moto, for tests that hook them."""
    return (
        session.create_client("mediastore", region_name=REGION, endpoint_url=url,
                              config=NO_RETRY),
        session.create_client("cloudfront", region_name=REGION, endpoint_url=url,
                              config=NO_RETRY),
    )


def hooked_provisioner(
    session: botocore.session.Session, url: str, *, cors: LocalCors | None = None
) -> tuple[Provisioner, Any, Any]:
    """A provisioner on explicit moto clients, with CORS answered by ``cors``."""
    ms, cf = moto_clients(session, url)
    if cors is not None:
        cors.install(ms)
    return Provisioner(mediastore_client=ms, cloudfront_client=cf, sleep=lambda _: None), ms, cf


def spec(**overrides: Any) -> ProvisioningSpec:
    kwargs: dict[str, Any] = {
        "container_name": "live",
        "public_key_pem": KEY_A,
        "ingest_secret": INGEST,
        "playback_secret": PLAYBACK,
        "container_policy": secret_gated_container_policy(
            ingest_secret=INGEST, playback_secret=PLAYBACK
        ),
        "lifecycle_policy": live_lifecycle_policy(seconds=120, wildcards=("live/*",)),
    }
    kwargs.update(overrides)
    return ProvisioningSpec(**kwargs)


def actions(plan: Plan) -> dict[str, str]:
    return {f"{s.resource}": s.action for s in plan.steps}


# --- end to end ---------------------------------------------------------------------------


def test_apply_twice_is_idempotent(session: botocore.session.Session, aws: str,
                                   probe: Probe) -> None:
    cors = LocalCors()
    p, _, _ = hooked_provisioner(session, aws, cors=cors)
    wanted = spec(cors_rules=live_cors_rules(["https://player.example"]))

    first_plan = p.plan(wanted)
    assert set(actions(first_plan).values()) == {"create"}
    assert list(actions(first_plan)) == [
        "mediastore container", "container policy", "CORS policy", "lifecycle policy",
        "public key", "key group", "ingest distribution", "playback distribution",
    ]

    applied_plan, setup = p.apply_with_plan(wanted)
    assert set(actions(applied_plan).values()) == {"create"}
    assert probe.counts() == {"containers": 1, "public keys": 1, "key groups": 1,
                              "distributions": 2}

    # What moto now holds is what we asked for.
    container = probe.ms.describe_container(ContainerName="live")["Container"]
    assert setup.container_arn == container["ARN"]
    assert setup.container_endpoint == container["Endpoint"]
    assert setup.account_id == MOTO_ACCOUNT_ID
    assert setup.region == REGION
    policy = ContainerPolicy.from_json(
        probe.ms.get_container_policy(ContainerName="live")["Policy"]
    )
    assert {st.sid for st in policy.statements} == {
        "MediaStoreFullAccess", "CloudFrontIngest", "CloudFrontPlayback"
    }
    assert json.loads(probe.ms.get_lifecycle_policy(ContainerName="live")["LifecyclePolicy"]) \
        == json.loads(wanted.lifecycle_policy or "")
    assert cors.policies["live"][0]["AllowedOrigins"] == ["https://player.example"]

    key = probe.cf.get_public_key(Id=setup.public_key_id)["PublicKey"]["PublicKeyConfig"]
    assert key["Name"] == "live-ingest-key"
    assert key["EncodedKey"].strip() == KEY_A.strip()
    group = probe.cf.get_key_group(Id=setup.key_group_id)["KeyGroup"]["KeyGroupConfig"]
    assert group["Items"] == [setup.public_key_id]

    origin_host = container["Endpoint"].removeprefix("https://")
    ingest = probe.dist_config(setup.ingest_distribution_id)
    assert ingest["CallerReference"] == "mediastore-ingest:live:ingest"
    origin = ingest["Origins"]["Items"][0]
    assert origin["DomainName"] == origin_host
    assert origin["CustomHeaders"]["Items"] == [
        {"HeaderName": "User-Agent", "HeaderValue": INGEST.user_agent}
    ]
    assert ingest["DefaultCacheBehavior"]["TrustedKeyGroups"]["Items"] == [setup.key_group_id]
    assert len(ingest["DefaultCacheBehavior"]["AllowedMethods"]["Items"]) == 7
    playback = probe.dist_config(setup.playback_distribution_id or "")
    assert playback["Origins"]["Items"][0]["CustomHeaders"]["Items"][0]["HeaderValue"] \
        == PLAYBACK.user_agent
    assert playback["DefaultCacheBehavior"]["AllowedMethods"]["Items"] == ["GET", "HEAD"]
    assert setup.ingest_distribution_domain.endswith(".cloudfront.net")

    # Second run: every step is reuse/unchanged and nothing new appears.
    second_plan = p.plan(wanted)
    assert second_plan.is_noop, str(second_plan)
    assert set(actions(second_plan).values()) <= {"reuse", "unchanged"}
    puts_before = cors.puts
    again_plan, again = p.apply_with_plan(wanted)
    assert again == setup
    assert again_plan.is_noop
    assert cors.puts == puts_before
    assert probe.counts() == {"containers": 1, "public keys": 1, "key groups": 1,
                              "distributions": 2}
    assert "nothing to change" in str(second_plan)

    # A fresh provisioner (a new process, say) finds the same resources.
    fresh, _, _ = hooked_provisioner(session, aws, cors=cors)
    assert fresh.apply(wanted) == setup


def test_dry_run_changes_nothing(session: botocore.session.Session, aws: str,
                                 probe: Probe) -> None:
    called: list[str] = []
    p, ms, cf = hooked_provisioner(session, aws)
    for client in (ms, cf):
        client.meta.events.register(
            "before-call.*.*", lambda model, **_: called.append(model.name)
        )
    plan = p.plan(spec(lifecycle_policy=None))
    assert [s.action for s in plan.steps] == ["create"] * 6
    assert called, "the plan made no AWS call at all"
    assert all(name.startswith(("Describe", "Get", "List")) for name in called), called
    assert probe.counts() == {"containers": 0, "public keys": 0, "key groups": 0,
                              "distributions": 0}
    assert INGEST.value not in str(plan)
    assert PLAYBACK.value not in str(plan)


def test_dry_run_after_partial_setup_reports_reuse_and_create(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    probe.ms.create_container(ContainerName="live")
    plan = provisioner(session, aws).plan(spec(playback=False, playback_secret=None))
    assert actions(plan) == {
        "mediastore container": "reuse",
        "container policy": "create",
        "lifecycle policy": "create",
        "public key": "create",
        "key group": "create",
        "ingest distribution": "create",
    }
    assert probe.counts()["public keys"] == 0


def test_changed_secret_updates_policy_and_distribution(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    p = provisioner(session, aws)
    setup = p.apply(spec(playback=False, playback_secret=None))
    rotated = IngestSecret("RotatedIngestSecret0123456789")
    new_spec = spec(
        playback=False, playback_secret=None, ingest_secret=rotated,
        container_policy=secret_gated_container_policy(ingest_secret=rotated),
    )
    plan = p.plan(new_spec)
    assert actions(plan)["ingest distribution"] == "update"
    assert actions(plan)["container policy"] == "update"
    step = next(s for s in plan.steps if s.resource == "ingest distribution")
    assert "origin custom headers" in step.detail
    assert rotated.value not in str(plan)
    assert INGEST.value not in str(plan)

    updated = p.apply(new_spec)
    assert updated == setup  # same resources, updated in place
    origin = probe.dist_config(setup.ingest_distribution_id)["Origins"]["Items"][0]
    assert origin["CustomHeaders"]["Items"][0]["HeaderValue"] == rotated.user_agent
    assert p.plan(new_spec).is_noop


def test_apply_can_wait_for_deployment(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    sleeps: list[float] = []
    p = provisioner(session, aws, sleep=sleeps.append, poll_interval=7.0, max_polls=5)
    setup = p.apply(spec(), wait_for_deployment=True)
    for dist_id in (setup.ingest_distribution_id, setup.playback_distribution_id):
        status = probe.cf.get_distribution(Id=dist_id)["Distribution"]["Status"]
        assert status == "Deployed"
    assert set(sleeps) <= {7.0}


def test_same_key_name_with_a_different_key_is_an_error(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    p = provisioner(session, aws)
    p.apply(spec(playback=False, playback_secret=None))
    with pytest.raises(ProvisioningError) as info:
        p.plan(spec(playback=False, playback_secret=None, public_key_pem=KEY_B))
    assert info.value.code == "PublicKeyMismatch"
    assert info.value.operation == "CreatePublicKey"
    # A different name is fine and creates a second key.
    plan = p.plan(spec(playback=False, playback_secret=None, public_key_pem=KEY_B,
                       public_key_name="live-key-2"))
    assert actions(plan)["public key"] == "create"


def test_existing_key_group_gets_the_key_added(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    other = probe.cf.create_public_key(PublicKeyConfig={
        "CallerReference": "other", "Name": "other-key", "EncodedKey": KEY_B,
    })["PublicKey"]["Id"]
    group = probe.cf.create_key_group(
        KeyGroupConfig={"Name": "live-ingest", "Items": [other]}
    )["KeyGroup"]["Id"]
    p, _, cf = hooked_provisioner(session, aws)
    updates: list[dict[str, Any]] = []

    def update_key_group(params: dict[str, Any]) -> dict[str, Any]:
        updates.append(params)
        return {"KeyGroup": {"Id": group, "LastModifiedTime": "2026-01-01T00:00:00Z",
                             "KeyGroupConfig": {"Name": "live-ingest", "Items": []}},
                "ETag": "E2"}

    # moto has no UpdateKeyGroup: answered locally, the rest goes to moto.
    answer_locally(cf, "UpdateKeyGroup", update_key_group)
    wanted = spec(playback=False, playback_secret=None)
    assert actions(p.plan(wanted))["key group"] == "update"
    setup = p.apply(wanted)
    assert setup.key_group_id == group
    assert len(updates) == 1
    assert updates[0]["Id"] == group
    assert updates[0]["KeyGroupConfig"]["Items"] == [other, setup.public_key_id]
    assert probe.counts()["key groups"] == 1


# --- errors ---------------------------------------------------------------------------------


def stubbed(session: botocore.session.Session, service: str) -> tuple[Any, Stubber]:
    client = session.create_client(service, region_name=REGION, config=NO_RETRY)
    return client, Stubber(client)


def test_client_error_is_translated(session: botocore.session.Session) -> None:
    ms, stub = stubbed(session, "mediastore")
    cf, _ = stubbed(session, "cloudfront")
    stub.add_client_error("describe_container", service_error_code="AccessDeniedException",
                          service_message="not allowed", http_status_code=403)
    p = Provisioner(mediastore_client=ms, cloudfront_client=cf)
    with stub, pytest.raises(ProvisioningError) as info:
        p.plan(spec())
    assert info.value.operation == "DescribeContainer"
    assert info.value.code == "AccessDeniedException"
    assert isinstance(info.value.__cause__, ClientError)
    assert p.region == REGION  # taken from the client


def test_secrets_are_redacted_from_aws_messages(session: botocore.session.Session) -> None:
    ms, stub = stubbed(session, "mediastore")
    cf, _ = stubbed(session, "cloudfront")
    stub.add_response("describe_container", {"Container": {
        "Name": "live", "Status": "ACTIVE",
        "ARN": f"arn:aws:mediastore:{REGION}:{MOTO_ACCOUNT_ID}:container/live",
        "Endpoint": f"https://abc.data.mediastore.{REGION}.amazonaws.com"}})
    stub.add_client_error("get_container_policy", service_error_code="PolicyNotFoundException")
    stub.add_client_error(
        "put_container_policy", service_error_code="InvalidPolicy",
        service_message=f"bad condition value {INGEST.user_agent}",
    )
    p = Provisioner(mediastore_client=ms, cloudfront_client=cf)
    with stub, pytest.raises(ProvisioningError) as info:
        p.apply(spec())
    assert info.value.code == "InvalidPolicy"
    assert INGEST.value not in str(info.value)
    assert "<hidden>" in str(info.value)


def test_waiting_for_the_container_is_bounded(session: botocore.session.Session) -> None:
    ms, stub = stubbed(session, "mediastore")
    cf, _ = stubbed(session, "cloudfront")
    creating = {"Container": {"Name": "live", "Status": "CREATING",
                              "ARN": "arn:aws:mediastore:us-west-2:123456789012:container/live"}}
    stub.add_client_error("describe_container", service_error_code="ContainerNotFoundException")
    stub.add_response("create_container", creating)
    for _ in range(3):
        stub.add_response("describe_container", creating)
    sleeps: list[float] = []
    p = Provisioner(mediastore_client=ms, cloudfront_client=cf, sleep=sleeps.append,
                    poll_interval=2.5, max_polls=3)
    with stub, pytest.raises(ProvisioningError) as info:
        p.apply(spec())
    assert info.value.code == "WaitTimeout"
    assert sleeps == [2.5, 2.5]
    stub.assert_no_pending_responses()


def test_connection_refused_is_translated(session: botocore.session.Session) -> None:
    with socket.socket() as s:  # a free loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = provisioner(session, f"http://127.0.0.1:{port}")
    with pytest.raises(ProvisioningError) as info:
        p.plan(spec())
    assert info.value.code == "EndpointConnectionError"
    assert info.value.operation == "DescribeContainer"


def test_missing_credentials_are_translated(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    p = provisioner(botocore.session.Session(), aws)
    with pytest.raises(ProvisioningError) as info:
        p.plan(spec())
    assert info.value.code == "NoCredentialsError"


def test_param_validation_error_is_translated(session: botocore.session.Session,
                                              aws: str) -> None:
    p, _, _ = hooked_provisioner(session, aws, cors=LocalCors())
    bad_rules = [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": "soon"}]
    with pytest.raises(ProvisioningError) as info:
        p.apply(spec(cors_rules=bad_rules, playback=False, playback_secret=None))
    assert info.value.code == "ParamValidationError"
    assert info.value.operation == "PutCorsPolicy"


def test_no_region_is_an_input_error(clean_env: None) -> None:
    with pytest.raises(InvalidInputError, match="region"):
        Provisioner(botocore.session.Session())


def test_endpoint_that_is_not_a_url_is_refused(session: botocore.session.Session) -> None:
    ms, stub = stubbed(session, "mediastore")
    cf, _ = stubbed(session, "cloudfront")
    stub.add_response("describe_container", {"Container": {
        "Name": "live", "Status": "ACTIVE", "Endpoint": "/live",
        "ARN": "arn:aws:mediastore:container:live"}})
    with stub, pytest.raises(ProvisioningError) as info:
        Provisioner(mediastore_client=ms, cloudfront_client=cf).plan(spec())
    assert info.value.code == "UnexpectedEndpoint"


# --- values -----------------------------------------------------------------------------------


def test_spec_validation_and_repr() -> None:
    with pytest.raises(InvalidInputError, match="playback_secret"):
        ProvisioningSpec(container_name="live", public_key_pem=KEY_A, ingest_secret=INGEST)
    with pytest.raises(DistributionConfigError, match="differ"):
        spec(playback_secret=IngestSecret(INGEST.value))
    with pytest.raises(InvalidInputError, match="container name"):
        spec(container_name="bad name")
    with pytest.raises(InvalidInputError, match="PUBLIC KEY"):
        spec(public_key_pem="not a key")
    with pytest.raises(InvalidInputError):
        spec(cors_rules="*")
    with pytest.raises(InvalidInputError, match="8192"):
        spec(lifecycle_policy=json.dumps({"rules": [], "pad": "x" * 8200}))
    with pytest.raises(InvalidInputError, match="JSON"):
        spec(lifecycle_policy="{")
    s = spec()
    assert INGEST.value not in repr(s)
    assert PLAYBACK.value not in repr(s)
    assert s.caller_reference("ingest") == spec().caller_reference("ingest")
    assert s.caller_reference("ingest") != s.caller_reference("playback")


def test_container_policy_as_text_is_checked() -> None:
    with pytest.raises(Exception, match="JSON"):
        spec(container_policy="{not json")
    with pytest.raises(Exception, match="ASCII"):
        spec(container_policy='{"a": "\u00e9"}')
    assert spec(container_policy='{"Version": "2012-10-17"}').container_policy \
        == '{"Version": "2012-10-17"}'


def test_lifecycle_policy_helper() -> None:
    doc = json.loads(live_lifecycle_policy(seconds=20, wildcards=("live/*.ts", "live/*.m3u8")))
    rule = doc["rules"][0]
    assert rule["action"] == "EXPIRE"
    assert rule["definition"]["seconds_since_create"] == [{"numeric": [">", 20]}]
    assert rule["definition"]["path"] == [{"wildcard": "live/*.ts"}, {"wildcard": "live/*.m3u8"}]
    for bad in (0, 301, True):
        with pytest.raises(InvalidInputError):
            live_lifecycle_policy(seconds=bad)


def test_ingest_setup_json_round_trip() -> None:
    setup = IngestSetup(
        container_name="live", container_arn="arn:aws:mediastore:us-west-2:1:container/live",
        container_endpoint="https://x.data.mediastore.us-west-2.amazonaws.com",
        region=REGION, public_key_id="K1", key_group_id="G1",
        ingest_distribution_id="E1", ingest_distribution_domain="d1.cloudfront.net",
        ingest_secret_ref="env:MI_SECRET",
    )
    assert IngestSetup.from_json(setup.to_json()) == setup
    assert setup.ingest_base_url == "https://d1.cloudfront.net"
    assert setup.playback_base_url is None
    doc = json.loads(setup.to_json())
    assert doc["format"] == "mediastore-ingest/setup"
    for bad in ("[]", "{", json.dumps({**doc, "version": 99}),
                json.dumps({k: v for k, v in doc.items() if k != "key_group_id"})):
        with pytest.raises(InvalidInputError):
            IngestSetup.from_json(bad)


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_registers_the_provision_commands() -> None:
    assert "._provision" in cli_package._COMMAND_MODULES


@pytest.fixture
def cli_env(aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    # Only this module's commands: the test does not depend on the other subcommands.
    monkeypatch.setattr(cli_package, "_COMMAND_MODULES", ("._provision",))
    monkeypatch.setenv("MI_INGEST", INGEST.value)
    monkeypatch.setenv("MI_PLAYBACK", PLAYBACK.value)
    pem = tmp_path / "public.pem"
    pem.write_text(KEY_A)
    return pem


def test_cli_provision_dry_run_then_apply_then_noop(
    cli_env: Path, aws: str, probe: Probe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "setup.json"
    base = ["provision", "--region", REGION, "--container", "live",
            "--public-key", str(cli_env), "--secret-env", "MI_INGEST",
            "--playback-secret-env", "MI_PLAYBACK", "--endpoint-url", aws]

    assert cli_main([*base, "--dry-run", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "create" in printed
    assert "ingest distribution" in printed
    assert INGEST.value not in printed
    assert not out.exists()
    assert probe.counts()["containers"] == 0

    assert cli_main([*base, "--out", str(out)]) == 0
    capsys.readouterr()
    setup = IngestSetup.from_json(out.read_text())
    assert setup.ingest_secret_ref == "env:MI_INGEST"
    assert setup.playback_secret_ref == "env:MI_PLAYBACK"
    assert INGEST.value not in out.read_text()
    assert probe.counts() == {"containers": 1, "public keys": 1, "key groups": 1,
                              "distributions": 2}

    assert cli_main([*base, "--dry-run"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert cli_main([*base, "--out", str(out)]) == 0
    assert IngestSetup.from_json(out.read_text()) == setup


def test_cli_provision_errors_are_one_line(
    cli_env: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["provision", "--region", REGION, "--container", "live",
                     "--public-key", str(cli_env), "--secret-env", "MI_UNSET",
                     "--endpoint-url", aws])
    assert code == 2
    err = capsys.readouterr().err
    assert "MI_UNSET" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_distribution_config(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"abc.data.mediastore.{REGION}.amazonaws.com"
    assert cli_main(["distribution-config", "--origin-domain", host,
                     "--key-group-id", "KG1", "--secret-env", "MI_INGEST"]) == 0
    config = json.loads(capsys.readouterr().out)
    model = botocore.session.get_session().get_service_model("cloudfront")
    report = ParamValidator().validate(
        {"DistributionConfig": config},
        model.operation_model("CreateDistribution").input_shape,
    )
    assert not report.has_errors(), report.generate_report()
    assert config["Origins"]["Items"][0]["CustomHeaders"]["Items"][0]["HeaderValue"] \
        == INGEST.user_agent

    assert cli_main(["distribution-config", "--origin-domain", host, "--playback",
                     "--secret-env", "MI_PLAYBACK"]) == 0
    playback = json.loads(capsys.readouterr().out)
    assert playback["DefaultCacheBehavior"]["AllowedMethods"]["Items"] == ["GET", "HEAD"]

    assert cli_main(["distribution-config", "--origin-domain", "https://" + host,
                     "--key-group-id", "KG1", "--secret-env", "MI_INGEST"]) == 2
    assert "drop the scheme" in capsys.readouterr().err


def test_key_groups_refuse_rsa_other_than_2048() -> None:

    from cryptography.hazmat.primitives import serialization

    from mediastore_ingest.errors import KeyLoadError

    pem = (VECTORS / "aws-sdk-ruby-unit-test-key.pem").read_bytes()
    public = (
        serialization.load_pem_private_key(pem, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(InvalidInputError, match="RSA 2048 or ECDSA P-256"):
        spec(public_key_pem=public)
    broken = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    with pytest.raises(KeyLoadError):
        spec(public_key_pem=broken)
