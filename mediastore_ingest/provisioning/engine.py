"""How an origin kind plugs into provisioning: one engine, registered by origin name.

An engine provisions the origin itself (a MediaStore container, an S3 bucket) and
says what the CloudFront distributions in front of it need; the
``Provisioner`` runs the steps all origins
share (the public key, the key group, the distributions). A third origin kind is a
module with an ``OriginEngine`` subclass and one ``register_engine`` call
(and its ``Origin`` description, registered with
``register_origin``).
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from mediastore_ingest._internal.show import shown
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.origins.base import get_origin

if TYPE_CHECKING:  # pragma: no cover
    from mediastore_ingest.provisioning.aws import Aws
    from mediastore_ingest.provisioning.plan import PlanStep
    from mediastore_ingest.provisioning.spec import ProvisioningSpec

__all__ = [
    "Distribution",
    "OriginEngine",
    "OriginState",
    "Role",
    "check_origin",
    "engine_for",
    "label_of",
    "register_engine",
    "unregister_engine",
]

#: The two distributions: ``ingest`` (writes) and ``playback`` (reads).
Role = Literal["ingest", "playback"]
#: A distribution as provisioning knows it: ``(id, domain name, ARN)``.
Distribution = tuple[str, str, str]


class OriginState(Protocol):
    """What the distributions need of an origin once the origin's own steps ran."""

    @property
    def domain(self) -> str | None:
        """The distributions' origin domain; ``None`` while it is not known (a dry
        run before the origin exists)."""

    @property
    def ready(self) -> bool:
        """True when everything a distribution config names exists, so the wanted
        config can be built and compared."""


StateT = TypeVar("StateT", bound=OriginState)


class OriginEngine(abc.ABC, Generic[StateT]):
    """Provisions one origin kind: its checks of a spec, its own resources, and what
    the distributions in front of it carry (a secret header, an Origin Access Control).

    ``plan`` and ``apply`` run, in order: ``prepare`` (the origin's resources),
    the public key and key group, the distributions (configured with
    ``distribution_options``), ``after_distributions``, then build the
    ``IngestSetup`` with ``origin_record``.
    Every method that changes something does so only when ``execute`` is true, and
    appends one ``PlanStep`` per resource.
    """

    #: The name of the origin kind (see ``mediastore_ingest.origins.get_origin``).
    origin: ClassVar[str]
    #: What a plan calls the origin ("container", "S3 bucket").
    label: ClassVar[str]
    #: What tags and setup records call it ("container", "bucket").
    resource: ClassVar[str]
    #: The start of the distributions' ``CallerReference``.
    reference_prefix: ClassVar[str]

    @abc.abstractmethod
    def check_spec(self, spec: ProvisioningSpec) -> None:
        """Refuse a spec this origin cannot provision (missing or foreign fields)."""

    @abc.abstractmethod
    def name_of(self, spec: ProvisioningSpec) -> str:
        """The origin's name in ``spec`` (the container or bucket name)."""

    def where(self, name: str) -> str:
        """How a distribution comment names the origin ``name``."""
        return name

    def secrets(self, spec: ProvisioningSpec) -> tuple[str, ...]:
        """The secret values no error message of the run may show."""
        return ()

    @abc.abstractmethod
    def prepare(
        self, aws: Aws, spec: ProvisioningSpec, execute: bool, steps: list[PlanStep]
    ) -> StateT:
        """Plan (and with ``execute``, make) the origin and its settings."""

    @abc.abstractmethod
    def distribution_options(
        self, spec: ProvisioningSpec, role: Role, state: StateT
    ) -> dict[str, Any]:
        """The origin's keyword arguments to the ``role`` distribution config builder
        (its secret header, or its Origin Access Control)."""

    def after_distributions(
        self,
        aws: Aws,
        spec: ProvisioningSpec,
        state: StateT,
        ingest: Distribution | None,
        playback: Distribution | None,
        execute: bool,
        steps: list[PlanStep],
    ) -> None:
        """What needs the distributions to exist (an S3 bucket policy names their ARNs)."""

    @abc.abstractmethod
    def origin_record(
        self, aws: Aws, spec: ProvisioningSpec, state: StateT, ingest: Distribution
    ) -> dict[str, Any]:
        """The ``IngestSetup`` fields that
        describe the origin (``container_name``, ``container_arn``, ...)."""


_ENGINES: dict[str, OriginEngine[Any]] = {}


def register_engine(engine: OriginEngine[Any]) -> OriginEngine[Any]:
    """Make ``engine`` the one that provisions origins named ``engine.origin``."""
    if not isinstance(engine, OriginEngine):
        raise InvalidInputError(f"engine must be an OriginEngine, not {type(engine).__name__}")
    get_origin(engine.origin)  # the origin kind must be known
    _ENGINES[engine.origin] = engine
    return engine


def unregister_engine(origin: str) -> None:
    """Forget the engine of ``origin`` (tests that register their own)."""
    _ENGINES.pop(origin, None)


def engine_for(origin: str) -> OriginEngine[Any]:
    """The engine that provisions ``origin`` (a registered origin name)."""
    engine = _ENGINES.get(origin)
    if engine is None:
        known = " or ".join(repr(name) for name in _ENGINES)
        raise InvalidInputError(
            f"origin {shown(origin)} cannot be provisioned: provisioning knows {known}"
        )
    return engine


def label_of(origin: str) -> str:
    """What a plan calls the origin of kind ``origin``."""
    engine = _ENGINES.get(origin)
    return "container" if engine is None else engine.label


def check_origin(instance: object, attribute: Any, value: Any) -> None:
    """An attrs validator: ``value`` names a registered origin that provisioning
    has an engine for."""
    if not isinstance(value, str):
        get_origin(value)  # an Origin object passes here, but a field holds its name
        raise InvalidInputError(f"{attribute.name} must be an origin name (str)")
    engine_for(get_origin(value).name)
