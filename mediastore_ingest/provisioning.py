"""Provision the AWS side of accelerated ingest, idempotently, with botocore.

Layer 6: the only module that changes AWS resources. It builds on botocore rather
than wrapping it: pass your own :class:`botocore.session.Session` (its credential
chain, profile, region and config are honoured) or ready-made clients.

What :meth:`Provisioner.apply` does, in order, each step *create*, *update* or
*reuse/unchanged*:

1. the MediaStore container (created if missing, then polled until ``ACTIVE``);
2. its container policy, CORS policy and object lifecycle policy (when the spec has them);
3. the CloudFront public key (``CreatePublicKey``; one with the same name and the same
   key is reused, the same name with a different key is an error);
4. the key group that trusts it (reused by name; the key is added when missing);
5. the ingest distribution and, optionally, the playback distribution. Their
   ``CallerReference`` is derived from the container name and the role, so a second
   run finds them again (and updates them if the wanted config changed).

:meth:`Provisioner.plan` is the dry run: it makes only read calls (``Describe*``,
``Get*``, ``List*``) and returns the :class:`Plan` of what ``apply`` would do.
Running ``apply`` twice changes nothing the second time: its plan holds only
``reuse`` and ``unchanged`` steps.

Every botocore failure (``ClientError``, ``EndpointConnectionError``,
``NoCredentialsError``, ``ParamValidationError``, ``WaiterError``, ...) surfaces as a
:class:`~mediastore_ingest.errors.ProvisioningError` carrying ``operation`` and
``code``, chained with ``raise ... from``. Secrets are never logged and are
redacted from error messages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast
from urllib.parse import urlsplit

import attrs
from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from .container_policy import ContainerPolicy, ContainerPolicyBuilder, IngestSecret
from .distribution import (
    ingest_distribution_config,
    playback_distribution_config,
    validate_origin_domain,
)
from .errors import (
    ContainerPolicyError,
    DistributionConfigError,
    InvalidInputError,
    KeySizeWarning,
    ProvisioningError,
)
from .keys import load_public_key

if TYPE_CHECKING:  # pragma: no cover
    import botocore.session

__all__ = [
    "INGEST_ACTIONS",
    "ContainerInfo",
    "IngestSetup",
    "Plan",
    "PlanStep",
    "Provisioner",
    "ProvisioningSpec",
    "live_cors_rules",
    "live_lifecycle_policy",
    "secret_gated_container_policy",
]

logger = logging.getLogger(__name__)

_CONTAINER_NAME = re.compile(r"[\w-]{1,255}\Z", re.ASCII)
_CF_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}\Z")
_MAX_CONTAINER_POLICY = 8192
_MAX_KEYS_PER_GROUP = 5
_SETUP_FORMAT = "mediastore-ingest/setup"
_SETUP_VERSION = 1

Action = Literal["create", "update", "reuse", "unchanged"]
Role = Literal["ingest", "playback"]


class _SupportsToJson(Protocol):
    def to_json(self) -> str: ...  # pragma: no cover


# --- values --------------------------------------------------------------------------


@attrs.frozen
class ContainerInfo:
    """What is known about the MediaStore container once it exists.

    A callable ``container_policy`` in :class:`ProvisioningSpec` receives this, so a
    policy naming the container ARN or the account can be rendered after creation.
    """

    name: str
    arn: str
    endpoint: str
    region: str
    status: str
    account_id: str | None = None

    @property
    def origin_domain(self) -> str:
        """The data endpoint's host name: the distributions' origin domain."""
        return urlsplit(self.endpoint).hostname or ""


def _policy_source(
    value: object,
) -> str | Callable[[ContainerInfo], object] | None:
    if value is None or callable(value):
        return cast("Callable[[ContainerInfo], object] | None", value)
    return _policy_text(value)


def _policy_text(value: object) -> str:
    """Turn a policy given as str or as an object with ``to_json()`` into checked text."""
    if isinstance(value, str):
        text = value
    elif callable(getattr(value, "to_json", None)):
        text = cast(_SupportsToJson, value).to_json()
        if not isinstance(text, str):
            raise ContainerPolicyError("container_policy.to_json() did not return a str")
    else:
        raise ContainerPolicyError(
            "container_policy must be JSON text, a ContainerPolicy or a callable, "
            f"not {type(value).__name__}"
        )
    if not text.isascii() or not 1 <= len(text) <= _MAX_CONTAINER_POLICY:
        raise ContainerPolicyError(
            f"a container policy must be ASCII and 1-{_MAX_CONTAINER_POLICY} characters"
        )
    try:
        json.loads(text)
    except ValueError as exc:
        raise ContainerPolicyError(f"the container policy is not valid JSON: {exc}") from exc
    return text


def _check_json_text(what: str, max_len: int) -> Callable[[Any, Any, str | None], None]:
    def check(instance: object, attribute: object, value: str | None) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not 1 <= len(value) <= max_len:
            raise InvalidInputError(f"{what} must be JSON text of 1-{max_len} characters")
        try:
            json.loads(value)
        except ValueError as exc:
            raise InvalidInputError(f"{what} is not valid JSON: {exc}") from exc

    return check


def _cors_converter(value: object) -> tuple[dict[str, object], ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError("cors_rules must be a sequence of CorsRule mappings")
    rules: list[dict[str, object]] = []
    for rule in value:
        if not isinstance(rule, Mapping) or "AllowedOrigins" not in rule:
            raise InvalidInputError("every CORS rule must be a mapping with AllowedOrigins")
        rules.append(dict(rule))
    if not 1 <= len(rules) <= 100:
        raise InvalidInputError("a CORS policy holds 1-100 rules")
    return tuple(rules)


def _check_container_name(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _CONTAINER_NAME.match(value):
        raise InvalidInputError(
            f"container name must be 1-255 letters, digits, '_' or '-', got {value!r}"
        )


def _check_cf_name(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not _CF_NAME.match(value)):
        raise InvalidInputError(
            f"{attribute.name} must be 1-128 letters, digits, '_' or '-', got {value!r}"
        )


def _check_public_key(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str) or "-----BEGIN PUBLIC KEY-----" not in value:
        raise InvalidInputError(
            "public_key_pem must be a PEM SubjectPublicKeyInfo "
            "('-----BEGIN PUBLIC KEY-----'), as CloudFront's CreatePublicKey expects"
        )
    with warnings.catch_warnings():
        # Legacy key pairs take RSA 1024/4096 (a warning); key groups do not (an error).
        warnings.simplefilter("ignore", KeySizeWarning)
        key = load_public_key(value.encode("ascii", "replace"))
    if isinstance(key, rsa.RSAPublicKey) and key.key_size != 2048:
        raise InvalidInputError(
            f"CloudFront key groups take RSA 2048 or ECDSA P-256 public keys, "
            f"not RSA {key.key_size}"
        )


@attrs.frozen
class ProvisioningSpec:
    """What to provision: one container, its policies, one key, and the distributions.

    ``container_policy`` is JSON text, a ``ContainerPolicy`` (anything with
    ``to_json()``), or a callable taking the :class:`ContainerInfo` and returning
    either — use the callable when the policy needs the container ARN or account id.
    ``None`` leaves the container's policy alone.

    ``ingest_secret`` and ``playback_secret`` are used to build the distributions'
    ``User-Agent`` origin headers; they are never shown by ``repr`` and never written
    into an :class:`IngestSetup`.
    """

    container_name: str = attrs.field(validator=_check_container_name)
    public_key_pem: str = attrs.field(validator=_check_public_key, repr=False)
    ingest_secret: IngestSecret = attrs.field(
        repr=False, validator=attrs.validators.instance_of(IngestSecret)
    )
    container_policy: str | Callable[[ContainerInfo], object] | None = attrs.field(
        default=None, converter=_policy_source, repr=False
    )
    playback: bool = True
    playback_secret: IngestSecret | None = attrs.field(
        default=None,
        repr=False,
        validator=attrs.validators.optional(attrs.validators.instance_of(IngestSecret)),
    )
    playback_signed: bool = False
    cors_rules: tuple[dict[str, object], ...] | None = attrs.field(
        default=None, converter=_cors_converter
    )
    lifecycle_policy: str | None = attrs.field(
        default=None, validator=_check_json_text("lifecycle_policy", 8192)
    )
    public_key_name: str | None = attrs.field(default=None, validator=_check_cf_name)
    key_group_name: str | None = attrs.field(default=None, validator=_check_cf_name)
    price_class: str = "PriceClass_All"
    origin_read_timeout: int = 30
    origin_keepalive_timeout: int = 5
    container_tags: Mapping[str, str] = attrs.field(factory=dict, converter=dict)

    def __attrs_post_init__(self) -> None:
        if self.playback and self.playback_secret is None:
            raise InvalidInputError(
                "a playback distribution needs its own playback_secret "
                "(or pass playback=False)"
            )
        if (
            self.playback_secret is not None
            and self.playback_secret.value == self.ingest_secret.value
        ):
            raise DistributionConfigError(
                "the playback secret must differ from the ingest secret"
            )

    @property
    def effective_public_key_name(self) -> str:
        """The CloudFront public key name (default ``<container>-ingest-key``)."""
        return self.public_key_name or _cf_name(f"{self.container_name}-ingest-key")

    @property
    def effective_key_group_name(self) -> str:
        """The key group name (default ``<container>-ingest``)."""
        return self.key_group_name or _cf_name(f"{self.container_name}-ingest")

    def caller_reference(self, role: Role) -> str:
        """The deterministic ``CallerReference`` of the ``role`` distribution."""
        return f"mediastore-ingest:{self.container_name}:{role}"

    def comment(self, role: Role) -> str:
        """The distribution ``Comment`` (at most 128 characters)."""
        return f"mediastore-ingest {role}: {self.container_name}"[:128]


def _cf_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:128]


def live_lifecycle_policy(
    *, seconds: int = 300, wildcards: Sequence[str] = ("*",)
) -> str:
    """A MediaStore lifecycle policy with one *transient data* rule.

    Objects matching any of ``wildcards`` expire ``seconds`` (1-300, MediaStore's limit
    for transient rules) after they were written — right for live segments and
    manifests that no player asks for once they drop out of the playlist window.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 300:
        raise InvalidInputError(f"seconds must be an int from 1 to 300, got {seconds!r}")
    paths = list(wildcards)
    if not 1 <= len(paths) <= 10 or not all(isinstance(p, str) and p for p in paths):
        raise InvalidInputError("wildcards must be 1-10 non-empty path patterns")
    rule = {
        "definition": {
            "path": [{"wildcard": p} for p in paths],
            "seconds_since_create": [{"numeric": [">", seconds]}],
        },
        "action": "EXPIRE",
    }
    return json.dumps({"rules": [rule]}, separators=(",", ":"))


def live_cors_rules(
    allowed_origins: Sequence[str] = ("*",), *, max_age_seconds: int = 3000
) -> tuple[dict[str, object], ...]:
    """CORS rules letting browser players ``GET``/``HEAD`` from ``allowed_origins``."""
    origins = list(allowed_origins)
    if not origins or not all(isinstance(o, str) and o for o in origins):
        raise InvalidInputError("allowed_origins must be non-empty strings")
    return (
        {
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": max_age_seconds,
        },
    )


#: What encoders may do through the ingest distribution (PUT, DELETE, HEAD, GET).
INGEST_ACTIONS: tuple[str, ...] = (
    "mediastore:PutObject",
    "mediastore:DeleteObject",
    "mediastore:GetObject",
    "mediastore:DescribeObject",
)


def secret_gated_container_policy(
    *,
    ingest_secret: IngestSecret,
    playback_secret: IngestSecret | None = None,
    account_id: str | None = None,
    ingest_actions: Sequence[str] = INGEST_ACTIONS,
) -> Callable[[ContainerInfo], ContainerPolicy]:
    """A ``container_policy`` factory for :class:`ProvisioningSpec`.

    The policy it renders (once the container exists) grants the account full access
    over HTTPS, ``ingest_actions`` to requests carrying the ingest secret's
    ``User-Agent``, and — with ``playback_secret`` — reads to requests carrying the
    playback secret. ``account_id`` defaults to the one in the container ARN.
    """

    def render(info: ContainerInfo) -> ContainerPolicy:
        account = account_id or info.account_id
        if account is None:
            raise InvalidInputError(
                f"cannot tell the AWS account from the container ARN {info.arn!r}; "
                "pass account_id"
            )
        builder = (
            ContainerPolicyBuilder(region=info.region, account_id=account, container=info.name)
            .allow_account_full_access()
            .allow_cloudfront_ingest(ingest_secret, actions=tuple(ingest_actions))
        )
        if playback_secret is not None:
            builder = builder.allow_cloudfront_read(playback_secret)
        return builder.build()

    return render


@attrs.frozen
class PlanStep:
    """One resource in a :class:`Plan`: what would be (or was) done to it."""

    action: Action
    resource: str
    name: str
    detail: str = ""

    @property
    def changes(self) -> bool:
        """True for ``create`` and ``update``."""
        return self.action in ("create", "update")

    def __str__(self) -> str:
        text = f"{self.action:<9} {self.resource:<22} {self.name}"
        return f"{text}  ({self.detail})" if self.detail else text


@attrs.frozen
class Plan:
    """The ordered steps of a provisioning run; printable; computing it changed nothing."""

    region: str
    container_name: str
    steps: tuple[PlanStep, ...]

    @property
    def changes(self) -> tuple[PlanStep, ...]:
        """The steps that create or update something."""
        return tuple(s for s in self.steps if s.changes)

    @property
    def is_noop(self) -> bool:
        """True when applying would change nothing."""
        return not self.changes

    def __str__(self) -> str:
        head = f"Plan for container {self.container_name!r} in {self.region}:"
        lines = [head, *(f"  {step}" for step in self.steps)]
        tail = (
            "  nothing to change"
            if self.is_noop
            else f"  {len(self.changes)} change(s)"
        )
        return "\n".join([*lines, tail])


def _opt_str(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"{attribute.name} must be a str or None")


def _req_str(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{attribute.name} must be a non-empty str")


@attrs.frozen
class IngestSetup:
    """The identifiers of a provisioned ingest setup, for other commands to read.

    It holds no secret. ``ingest_secret_ref`` / ``playback_secret_ref`` are optional
    free-form *references* to where the secrets live (the CLI writes ``env:VAR``);
    the secret values themselves are never stored here.
    """

    container_name: str = attrs.field(validator=_req_str)
    container_arn: str = attrs.field(validator=_req_str)
    container_endpoint: str = attrs.field(validator=_req_str)
    region: str = attrs.field(validator=_req_str)
    public_key_id: str = attrs.field(validator=_req_str)
    key_group_id: str = attrs.field(validator=_req_str)
    ingest_distribution_id: str = attrs.field(validator=_req_str)
    ingest_distribution_domain: str = attrs.field(validator=_req_str)
    playback_distribution_id: str | None = attrs.field(default=None, validator=_opt_str)
    playback_distribution_domain: str | None = attrs.field(default=None, validator=_opt_str)
    account_id: str | None = attrs.field(default=None, validator=_opt_str)
    ingest_secret_ref: str | None = attrs.field(default=None, validator=_opt_str)
    playback_secret_ref: str | None = attrs.field(default=None, validator=_opt_str)

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
        """Parse what :meth:`to_json` wrote; unknown keys are ignored."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"an ingest setup must be JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != _SETUP_FORMAT:
            raise InvalidInputError(f"not an ingest setup document (format {_SETUP_FORMAT!r})")
        if doc.get("version") != _SETUP_VERSION:
            raise InvalidInputError(
                f"unsupported ingest setup version {doc.get('version')!r} "
                f"(this library reads version {_SETUP_VERSION})"
            )
        names = [f.name for f in attrs.fields(cls)]
        missing = [f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING and
                   f.name not in doc]
        if missing:
            raise InvalidInputError(f"ingest setup lacks {', '.join(missing)}")
        return cls(**{k: doc[k] for k in names if k in doc})


# --- botocore plumbing -----------------------------------------------------------------

_NOT_FOUND_CONTAINER = ("ContainerNotFoundException", "ResourceNotFoundException")
_NO_POLICY = ("PolicyNotFoundException",)
_NO_CORS = ("CorsPolicyNotFoundException", "PolicyNotFoundException")


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else "ClientError"
    return type(exc).__name__


def _redact(text: str, secrets: Sequence[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "<hidden>")
    return text


class Provisioner:
    """Plan and apply an ingest setup with botocore.

    ``session`` is your :class:`botocore.session.Session` (default: a new session,
    which follows the usual credential chain). ``region`` is the MediaStore region
    (default: the session's region). ``endpoint_url`` overrides the endpoint, either
    one URL for both services or a mapping ``{"mediastore": url, "cloudfront": url}``.
    Or pass ready clients as ``mediastore_client`` / ``cloudfront_client``.

    ``sleep``, ``poll_interval`` and ``max_polls`` govern waiting for the container
    to become ``ACTIVE`` (and for distributions to deploy when asked to).
    """

    def __init__(
        self,
        session: botocore.session.Session | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | Mapping[str, str] | None = None,
        mediastore_client: Any = None,
        cloudfront_client: Any = None,
        client_config: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 5.0,
        max_polls: int = 60,
    ) -> None:
        if session is None and (mediastore_client is None or cloudfront_client is None):
            import botocore.session as _bs

            session = _bs.get_session()
        if region is None:
            if mediastore_client is not None:
                region = mediastore_client.meta.region_name
            elif session is not None:
                region = session.get_config_variable("region")
        if not isinstance(region, str) or not region:
            raise InvalidInputError(
                "no region: pass region=... or configure one in the botocore session"
            )
        if isinstance(max_polls, bool) or not isinstance(max_polls, int) or max_polls < 1:
            raise InvalidInputError("max_polls must be an int >= 1")
        self.region = region
        self._sleep = sleep
        self._poll_interval = poll_interval
        self._max_polls = max_polls
        self._secrets: tuple[str, ...] = ()
        urls: Mapping[str, str]
        if endpoint_url is None:
            urls = {}
        elif isinstance(endpoint_url, str):
            urls = {"mediastore": endpoint_url, "cloudfront": endpoint_url}
        else:
            urls = dict(endpoint_url)
        self._mediastore = mediastore_client or self._client(
            session, "mediastore", region, urls.get("mediastore"), client_config
        )
        # CloudFront is global; botocore routes any region to its global endpoint.
        self._cloudfront = cloudfront_client or self._client(
            session, "cloudfront", region, urls.get("cloudfront"), client_config
        )

    @staticmethod
    def _client(
        session: Any, service: str, region: str, endpoint_url: str | None, config: Any
    ) -> Any:
        try:
            return session.create_client(
                service, region_name=region, endpoint_url=endpoint_url, config=config
            )
        except BotoCoreError as exc:
            raise ProvisioningError(
                f"cannot create the {service} client: {exc}",
                operation="CreateClient",
                code=type(exc).__name__,
            ) from exc

    # -- public API -----------------------------------------------------------------

    def plan(self, spec: ProvisioningSpec) -> Plan:
        """Work out what :meth:`apply` would do, making only read-only AWS calls."""
        steps, _ = self._run(spec, execute=False)
        return Plan(region=self.region, container_name=spec.container_name, steps=steps)

    def apply(
        self, spec: ProvisioningSpec, *, wait_for_deployment: bool = False
    ) -> IngestSetup:
        """Create or update whatever the plan says, and return the resulting setup.

        With ``wait_for_deployment`` the distributions are polled until
        ``Deployed`` (bounded by ``max_polls``).
        """
        return self.apply_with_plan(spec, wait_for_deployment=wait_for_deployment)[1]

    def apply_with_plan(
        self, spec: ProvisioningSpec, *, wait_for_deployment: bool = False
    ) -> tuple[Plan, IngestSetup]:
        """Like :meth:`apply`, also returning the plan of what was actually done."""
        steps, setup = self._run(spec, execute=True, wait=wait_for_deployment)
        assert setup is not None
        plan = Plan(region=self.region, container_name=spec.container_name, steps=steps)
        return plan, setup

    # -- engine ---------------------------------------------------------------------

    def _run(
        self, spec: ProvisioningSpec, *, execute: bool, wait: bool = False
    ) -> tuple[tuple[PlanStep, ...], IngestSetup | None]:
        secrets = [spec.ingest_secret.value]
        if spec.playback_secret is not None:
            secrets.append(spec.playback_secret.value)
        self._secrets = tuple(secrets)
        steps: list[PlanStep] = []
        try:
            info = self._container(spec, execute, steps)
            self._container_policy(spec, info, execute, steps)
            self._cors(spec, info, execute, steps)
            self._lifecycle(spec, info, execute, steps)
            key_id = self._public_key(spec, execute, steps)
            group_id = self._key_group(spec, key_id, execute, steps)
            ingest = self._distribution(spec, "ingest", info, group_id, execute, steps)
            playback = None
            if spec.playback:
                playback = self._distribution(spec, "playback", info, group_id, execute, steps)
            if wait:
                for dist in (ingest, playback):
                    if dist is not None:
                        self._wait_deployed(dist[0])
        finally:
            self._secrets = ()
        for step in steps:
            logger.info("%s %s: %s", "applied" if execute else "planned", spec.container_name, step)
        if not execute:
            return tuple(steps), None
        assert info is not None
        assert key_id is not None
        assert group_id is not None
        assert ingest is not None
        return tuple(steps), IngestSetup(
            container_name=info.name,
            container_arn=info.arn,
            container_endpoint=info.endpoint,
            region=self.region,
            account_id=info.account_id,
            public_key_id=key_id,
            key_group_id=group_id,
            ingest_distribution_id=ingest[0],
            ingest_distribution_domain=ingest[1],
            playback_distribution_id=playback[0] if playback else None,
            playback_distribution_domain=playback[1] if playback else None,
        )

    def _call(
        self,
        service: Literal["mediastore", "cloudfront"],
        operation: str,
        *,
        absent: Sequence[str] = (),
        **params: object,
    ) -> dict[str, Any] | None:
        """Call ``operation``; ``None`` when the error code is one of ``absent``."""
        client = self._mediastore if service == "mediastore" else self._cloudfront
        method = getattr(client, xform_name(operation))
        try:
            result: dict[str, Any] = method(**params)
        except ClientError as exc:
            code = _error_code(exc)
            if code in absent:
                return None
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            raise ProvisioningError(
                _redact(f"{service} {operation} failed: {code}: {message}", self._secrets),
                operation=operation,
                code=code,
            ) from exc
        except BotoCoreError as exc:
            raise ProvisioningError(
                _redact(f"{service} {operation} failed: {exc}", self._secrets),
                operation=operation,
                code=type(exc).__name__,
            ) from exc
        return result

    def _poll(self, what: str, check: Callable[[], bool]) -> None:
        for attempt in range(self._max_polls):
            if check():
                return
            if attempt + 1 < self._max_polls:
                self._sleep(self._poll_interval)
        raise ProvisioningError(
            f"gave up waiting for {what} after {self._max_polls} polls",
            operation="Wait",
            code="WaitTimeout",
        )

    # -- MediaStore -----------------------------------------------------------------

    def _describe(self, name: str) -> ContainerInfo | None:
        out = self._call(
            "mediastore", "DescribeContainer", absent=_NOT_FOUND_CONTAINER, ContainerName=name
        )
        if out is None:
            return None
        c = out["Container"]
        arn = str(c.get("ARN", ""))
        parts = arn.split(":")
        account = parts[4] if len(parts) > 5 and parts[4].isdigit() else None
        return ContainerInfo(
            name=str(c.get("Name", name)),
            arn=arn,
            endpoint=str(c.get("Endpoint", "")),
            region=self.region,
            status=str(c.get("Status", "")),
            account_id=account,
        )

    def _container(
        self, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
    ) -> ContainerInfo | None:
        name = spec.container_name
        info = self._describe(name)
        if info is None:
            steps.append(PlanStep("create", "mediastore container", name))
            if not execute:
                return None
            tags = [{"Key": k, "Value": v} for k, v in sorted(spec.container_tags.items())]
            params: dict[str, Any] = {"ContainerName": name}
            if tags:
                params["Tags"] = tags
            self._call("mediastore", "CreateContainer", **params)
        else:
            if info.status == "DELETING":
                raise ProvisioningError(
                    f"container {name!r} is being deleted; try again once it is gone",
                    operation="DescribeContainer",
                    code="ContainerDeleting",
                )
            steps.append(PlanStep("reuse", "mediastore container", name, info.status.lower()))
            if info.status == "ACTIVE" or not execute:
                return self._checked(info)

        current: list[ContainerInfo] = []

        def active() -> bool:
            found = self._describe(name)
            if found is not None and found.status == "ACTIVE":
                current.append(found)
                return True
            return False

        self._poll(f"container {name!r} to become ACTIVE", active)
        return self._checked(current[-1])

    @staticmethod
    def _checked(info: ContainerInfo) -> ContainerInfo:
        if info.status != "ACTIVE":
            return info
        try:
            validate_origin_domain(info.origin_domain)
        except DistributionConfigError as exc:
            raise ProvisioningError(
                f"container {info.name!r} has an endpoint that is not an https URL "
                f"with a host name: {info.endpoint!r}",
                operation="DescribeContainer",
                code="UnexpectedEndpoint",
            ) from exc
        return info

    def _container_policy(
        self,
        spec: ProvisioningSpec,
        info: ContainerInfo | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        source = spec.container_policy
        if source is None:
            return
        name = spec.container_name
        if info is None:
            steps.append(PlanStep("create", "container policy", name))
            return
        wanted = _policy_text(source(info)) if callable(source) else source
        current = self._call(
            "mediastore", "GetContainerPolicy", absent=_NO_POLICY, ContainerName=name
        )
        action = _compare_json(wanted, current and current.get("Policy"))
        steps.append(PlanStep(action, "container policy", name))
        if execute and action in ("create", "update"):
            self._call("mediastore", "PutContainerPolicy", ContainerName=name, Policy=wanted)

    def _cors(
        self,
        spec: ProvisioningSpec,
        info: ContainerInfo | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        if spec.cors_rules is None:
            return
        name = spec.container_name
        wanted = [dict(rule) for rule in spec.cors_rules]
        if info is None:
            steps.append(PlanStep("create", "CORS policy", name))
            return
        current = self._call("mediastore", "GetCorsPolicy", absent=_NO_CORS, ContainerName=name)
        if current is None:
            action: Action = "create"
        elif _canonical(current.get("CorsPolicy")) == _canonical(wanted):
            action = "unchanged"
        else:
            action = "update"
        steps.append(PlanStep(action, "CORS policy", name))
        if execute and action != "unchanged":
            self._call("mediastore", "PutCorsPolicy", ContainerName=name, CorsPolicy=wanted)

    def _lifecycle(
        self,
        spec: ProvisioningSpec,
        info: ContainerInfo | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        wanted = spec.lifecycle_policy
        if wanted is None:
            return
        name = spec.container_name
        if info is None:
            steps.append(PlanStep("create", "lifecycle policy", name))
            return
        current = self._call(
            "mediastore", "GetLifecyclePolicy", absent=_NO_POLICY, ContainerName=name
        )
        action = _compare_json(wanted, current and current.get("LifecyclePolicy"))
        steps.append(PlanStep(action, "lifecycle policy", name))
        if execute and action in ("create", "update"):
            self._call(
                "mediastore", "PutLifecyclePolicy", ContainerName=name, LifecyclePolicy=wanted
            )

    # -- CloudFront keys ------------------------------------------------------------

    def _list(self, operation: str, list_key: str) -> Iterator[dict[str, Any]]:
        marker: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {}
            if marker:
                params["Marker"] = marker
            out = self._call("cloudfront", operation, **params) or {}
            page = out.get(list_key) or {}
            yield from page.get("Items") or []
            marker = page.get("NextMarker")
            if not marker or marker in seen:
                return
            seen.add(marker)

    def _public_key(
        self, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
    ) -> str | None:
        name = spec.effective_public_key_name
        wanted = spec.public_key_pem
        for item in self._list("ListPublicKeys", "PublicKeyList"):
            if item.get("Name") != name:
                continue
            if _pem_body(str(item.get("EncodedKey", ""))) != _pem_body(wanted):
                raise ProvisioningError(
                    f"CloudFront public key {name!r} ({item.get('Id')}) exists with a "
                    "different key; choose another public_key_name or delete the old key",
                    operation="CreatePublicKey",
                    code="PublicKeyMismatch",
                )
            steps.append(PlanStep("reuse", "public key", name, str(item.get("Id"))))
            return str(item["Id"])
        steps.append(PlanStep("create", "public key", name))
        if not execute:
            return None
        digest = hashlib.sha256(_pem_body(wanted).encode()).hexdigest()[:16]
        out = self._call(
            "cloudfront",
            "CreatePublicKey",
            PublicKeyConfig={
                "CallerReference": f"mediastore-ingest:{name}:{digest}",
                "Name": name,
                "EncodedKey": wanted,
                "Comment": f"mediastore-ingest: {spec.container_name}"[:128],
            },
        )
        assert out is not None
        return str(out["PublicKey"]["Id"])

    def _key_group(
        self,
        spec: ProvisioningSpec,
        key_id: str | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> str | None:
        name = spec.effective_key_group_name
        for item in self._list("ListKeyGroups", "KeyGroupList"):
            group = item.get("KeyGroup") or {}
            config = group.get("KeyGroupConfig") or {}
            if config.get("Name") != name:
                continue
            group_id = str(group["Id"])
            items = list(config.get("Items") or [])
            if key_id is not None and key_id in items:
                steps.append(PlanStep("reuse", "key group", name, group_id))
                return group_id
            if len(items) >= _MAX_KEYS_PER_GROUP:
                raise ProvisioningError(
                    f"key group {name!r} already holds {_MAX_KEYS_PER_GROUP} keys; "
                    "remove one before adding the ingest key",
                    operation="UpdateKeyGroup",
                    code="TooManyPublicKeysInKeyGroup",
                )
            steps.append(PlanStep("update", "key group", name, f"{group_id}: add public key"))
            if execute:
                assert key_id is not None
                current = self._call("cloudfront", "GetKeyGroup", Id=group_id)
                assert current is not None
                new_config = dict(current["KeyGroup"]["KeyGroupConfig"])
                new_config["Items"] = [*items, key_id]
                self._call(
                    "cloudfront",
                    "UpdateKeyGroup",
                    Id=group_id,
                    IfMatch=current["ETag"],
                    KeyGroupConfig=new_config,
                )
            return group_id
        steps.append(PlanStep("create", "key group", name))
        if not execute:
            return None
        assert key_id is not None
        out = self._call(
            "cloudfront",
            "CreateKeyGroup",
            KeyGroupConfig={
                "Name": name,
                "Items": [key_id],
                "Comment": f"mediastore-ingest: {spec.container_name}"[:128],
            },
        )
        assert out is not None
        return str(out["KeyGroup"]["Id"])

    # -- CloudFront distributions ---------------------------------------------------

    def _wanted_config(
        self, spec: ProvisioningSpec, role: Role, origin: str, group_id: str
    ) -> dict[str, object]:
        common: dict[str, Any] = {
            "origin_domain": origin,
            "caller_reference": spec.caller_reference(role),
            "comment": spec.comment(role),
            "price_class": spec.price_class,
            "origin_read_timeout": spec.origin_read_timeout,
            "origin_keepalive_timeout": spec.origin_keepalive_timeout,
        }
        if role == "ingest":
            return ingest_distribution_config(
                secret=spec.ingest_secret, key_group_id=group_id, **common
            )
        return playback_distribution_config(
            secret=spec.playback_secret,
            ingest_secret=spec.ingest_secret,
            key_group_id=group_id if spec.playback_signed else None,
            **common,
        )

    def _find_distribution(
        self, reference: str, comment: str, origin: str | None
    ) -> tuple[str, str, dict[str, Any], str] | None:
        """Find a distribution by CallerReference: ``(id, domain, config, etag)``."""
        for summary in self._list("ListDistributions", "DistributionList"):
            if not _may_be(summary, comment, origin):
                continue
            out = self._call("cloudfront", "GetDistributionConfig", Id=summary["Id"])
            assert out is not None
            config = out["DistributionConfig"]
            if config.get("CallerReference") == reference:
                return str(summary["Id"]), str(summary["DomainName"]), config, str(out["ETag"])
        return None

    def _distribution(
        self,
        spec: ProvisioningSpec,
        role: Role,
        info: ContainerInfo | None,
        group_id: str | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> tuple[str, str] | None:
        resource = f"{role} distribution"
        reference = spec.caller_reference(role)
        origin = info.origin_domain if info is not None and info.status == "ACTIVE" else None
        found = self._find_distribution(reference, spec.comment(role), origin)
        if origin is None or group_id is None:
            # Dry run before the container or key group exists: nothing to compare.
            action: Action = "update" if found else "create"
            detail = "config depends on resources created above"
            steps.append(PlanStep(action, resource, reference, detail))
            return None
        wanted = self._wanted_config(spec, role, origin, group_id)
        if found is None:
            steps.append(PlanStep("create", resource, reference))
            if not execute:
                return None
            out = self._call(
                "cloudfront",
                "CreateDistributionWithTags",
                DistributionConfigWithTags={
                    "DistributionConfig": wanted,
                    "Tags": {
                        "Items": [
                            {"Key": "mediastore-ingest:container", "Value": spec.container_name},
                            {"Key": "mediastore-ingest:role", "Value": role},
                        ]
                    },
                },
            )
            assert out is not None
            return str(out["Distribution"]["Id"]), str(out["Distribution"]["DomainName"])
        dist_id, domain, current, etag = found
        differences = _differences(wanted, current)
        if not differences:
            steps.append(PlanStep("reuse", resource, reference, dist_id))
            return dist_id, domain
        steps.append(
            PlanStep("update", resource, reference, f"{dist_id}: {', '.join(differences)}")
        )
        if execute:
            out = self._call(
                "cloudfront",
                "UpdateDistribution",
                Id=dist_id,
                IfMatch=etag,
                DistributionConfig=wanted,
            )
            assert out is not None
            domain = str(out["Distribution"]["DomainName"])
        return dist_id, domain

    def _wait_deployed(self, dist_id: str) -> None:
        def deployed() -> bool:
            out = self._call("cloudfront", "GetDistribution", Id=dist_id)
            return out is not None and out["Distribution"].get("Status") == "Deployed"

        self._poll(f"distribution {dist_id} to deploy", deployed)


# --- comparison helpers ----------------------------------------------------------------


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _compare_json(wanted: str, current: object) -> Action:
    if current is None:
        return "create"
    try:
        same = json.loads(str(current)) == json.loads(wanted)
    except ValueError:
        same = False
    return "unchanged" if same else "update"


def _pem_body(pem: str) -> str:
    return "".join(
        line.strip()
        for line in pem.strip().splitlines()
        if line.strip() and not line.startswith("-----")
    )


def _may_be(summary: Mapping[str, Any], comment: str, origin: str | None) -> bool:
    """Cheap pre-filter on a ListDistributions summary before GetDistributionConfig.

    A summary is a candidate when its comment is ours, when one of its origins is our
    container, or when it lacks both pieces of information (some emulators omit them).
    """
    has_comment = "Comment" in summary
    origins = (summary.get("Origins") or {}).get("Items")
    if has_comment and summary.get("Comment") == comment:
        return True
    if (
        origins is not None
        and origin is not None
        and any(o.get("DomainName") == origin for o in origins)
    ):
        return True
    return not has_comment and origins is None


def _essentials(config: Mapping[str, Any]) -> dict[str, object]:
    """The parts of a DistributionConfig this library owns, in comparable form."""
    origins = []
    for o in (config.get("Origins") or {}).get("Items") or []:
        custom = o.get("CustomOriginConfig") or {}
        s3 = o.get("S3OriginConfig")
        origins.append(
            {
                "origin": (o.get("Id"), o.get("DomainName"), o.get("OriginPath") or ""),
                "origin custom headers": sorted(
                    (h.get("HeaderName", "").lower(), h.get("HeaderValue"))
                    for h in (o.get("CustomHeaders") or {}).get("Items") or []
                ),
                "origin protocol": (
                    custom.get("OriginProtocolPolicy"),
                    sorted((custom.get("OriginSslProtocols") or {}).get("Items") or []),
                    None if s3 is None else s3.get("OriginAccessIdentity", ""),
                ),
                "origin timeouts": (
                    custom.get("OriginReadTimeout") or (s3 or {}).get("OriginReadTimeout") or 30,
                    custom.get("OriginKeepaliveTimeout") or 5,
                ),
                "origin access control": o.get("OriginAccessControlId") or "",
            }
        )
    b = config.get("DefaultCacheBehavior") or {}
    allowed = b.get("AllowedMethods") or {}
    trusted = b.get("TrustedKeyGroups") or {}
    out: dict[str, object] = {
        "origins": len(origins),
        "comment": config.get("Comment"),
        "price class": config.get("PriceClass"),
        "enabled": config.get("Enabled"),
        "target origin": b.get("TargetOriginId"),
        "viewer protocol": b.get("ViewerProtocolPolicy"),
        "allowed methods": sorted(allowed.get("Items") or []),
        "cached methods": sorted((allowed.get("CachedMethods") or {}).get("Items") or []),
        "cache policy": b.get("CachePolicyId") or "",
        "origin request policy": b.get("OriginRequestPolicyId") or "",
        "trusted key groups": (
            bool(trusted.get("Enabled")),
            sorted(trusted.get("Items") or []),
        ),
    }
    for origin in origins[:1]:
        out.update(origin)
    return out


def _differences(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names (never values: they hold secrets) of the essentials that differ."""
    a, b = _essentials(wanted), _essentials(current)
    return [key for key in a if a[key] != b.get(key)]
