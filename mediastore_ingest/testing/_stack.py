"""``LocalStack``: the whole ingest path on loopback, in one object.

A signing key and its key id, an ingest secret and a different playback secret, the
container policy that ties them together, an HTTPS
``LocalContainer``, an ingest
``LocalEdge`` (all methods, signatures required,
``User-Agent: MediaStore-Secret-<secret>`` to the origin, optional faults) and a
playback edge (GET/HEAD, its own secret)::

    with LocalStack() as stack:
        client = stack.ingest_client()
        client.put("live/seg1.ts", data)
        assert stack.container.read("live/seg1.ts") == data

``LocalStack(origin="s3")`` is the same chain onto MediaStore's successor: an HTTPS
``LocalBucket`` behind edges that sign for it with
Origin Access Control, each with its own credential mapped to its own distribution
ARN, and a bucket policy letting only the ingest distribution write and only the
playback distribution read. Uploads must then carry ``x-amz-content-sha256``
(``LocalStack.ingest_client`` uses ``IngestConfig(origin="s3")``)::

    with LocalStack(origin="s3") as stack:
        stack.ingest_client().put("live/seg1.ts", data)
        assert stack.bucket.read("live/seg1.ts") == data
"""

from __future__ import annotations

import datetime
import os
import secrets
import string
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import (
    check_callable,
    check_optional_str,
    check_path,
    check_str,
    check_strs,
)
from mediastore_ingest.errors import InvalidInputError, LocalStackError
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins import (
    CLOUDFRONT_SERVICE_PRINCIPAL,
    BucketPolicy,
    BucketPolicyBuilder,
    distribution_arn,
)
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder
from mediastore_ingest.signing.keys import (
    KeyPair,
    PublicKey,
    generate_key_pair,
    load_public_key,
    new_key_id,
)
from mediastore_ingest.signing.signer import HashAlgorithm, UrlSigner
from mediastore_ingest.signing.verifier import PublicKeySource
from mediastore_ingest.testing._edge import INGEST_METHODS, PLAYBACK_METHODS, LocalEdge
from mediastore_ingest.testing._faults import FaultPlan
from mediastore_ingest.testing._longlink import (
    Geography,
    LongLink,
    start_links,
    start_origin_link,
)
from mediastore_ingest.testing._mediastore import LocalContainer
from mediastore_ingest.testing._oac import OriginAccessControl
from mediastore_ingest.testing._s3 import LocalBucket
from mediastore_ingest.testing._sigv4 import DEFAULT_CREDENTIALS, LocalCredential
from mediastore_ingest.testing._tls import LocalCA

if TYPE_CHECKING:
    from mediastore_ingest.ingest import IngestClient

__all__ = ["DEFAULT_INGEST_ACTIONS", "DEFAULT_S3_INGEST_ACTIONS", "LocalStack"]

#: What the ingest distribution may do at the origin by default: write and delete
#: (encoders remove old segments). Reads go through the playback distribution.
DEFAULT_INGEST_ACTIONS: tuple[str, ...] = ("mediastore:PutObject", "mediastore:DeleteObject")
#: The same for an S3 origin (``LocalStack(origin="s3")``).
DEFAULT_S3_INGEST_ACTIONS: tuple[str, ...] = ("s3:PutObject", "s3:DeleteObject")

_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


def _new_origin_access(region: str) -> OriginAccessControl:
    # Test credentials standing for the CloudFront service principal of one distribution.
    access_key = "AKIA" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))
    return OriginAccessControl(access_key, secrets.token_urlsafe(30), region)


@attrs.frozen
class _StackOrigin:
    """How ``LocalStack`` builds the chain onto one origin kind."""

    #: The local server standing in for the origin (it knows the origin's rules).
    server: type[LocalContainer] | type[LocalBucket]
    #: What the stack calls it (``repr``, messages).
    noun: str
    #: The ``LocalStack`` argument that names it.
    name_argument: Literal["container_name", "bucket_name"]
    #: What the ingest distribution may do at the origin by default.
    ingest_actions: tuple[str, ...]
    #: How the edges prove to the origin that they are the distribution: an ingest
    #: secret as ``User-Agent`` (``False``: Origin Access Control, no secrets).
    uses_secrets: bool
    #: Said when a part this kind of stack does not have is asked for.
    missing_hint: str
    #: Starts the origin and both edges: ``start(stack, parts, started, ca, key_group)``.
    start: Callable[[LocalStack, dict[str, Any], list[Any], LocalCA, dict[str, Any]], None]


class LocalStack:
    """Keys, secrets, container policy, container and two edges, on loopback.

    ``faults``: a ``FaultPlan`` applied at the ingest edge only. ``clock``
    (epoch seconds) is what both edges call "now" when verifying signatures, and the
    signer's base for relative expiries; TLS certificates and the container always use
    real time. ``key_algorithm`` is ``"ecdsa"`` (P-256, fast; the default) or
    ``"rsa"`` (2048); ``hash_algorithm`` ``"SHA256"`` (default) or ``"SHA1"``; or pass
    your own ``key_pair`` and ``key_id``. ``secret``/``playback_secret`` default to new
    random ones. ``ingest_actions`` are granted to the ingest distribution;
    ``playback_signed=False`` makes the playback edge accept unsigned requests;
    ``edge_tls=True`` makes both edges speak HTTPS (trust ``ca_bundle``).
    ``storage_dir`` keeps the container's objects on disk.

    ``geography`` (a ``Geography`` or a preset name such as
    ``"sao-paulo-us-west-2"``) puts a ``LongLink`` on each path: in front of the
    ingest edge (``ingest_base_url`` is then the encoder's view, through it),
    between the ingest edge and the origin, and in front of the origin
    (``direct_origin_endpoint``); ``links`` holds them.

    ``signer`` brings a signer of your own instead of a generated key (a
    ``UrlSigner`` over an external key such as
    ``KmsSigner``, or a
    ``RotatingUrlSigner``); ``trusted_keys``
    (key id -> public key) is then the edges' key group and must hold the signer's key
    id. ``set_trusted_keys`` changes both edges' key group while running.

    ``origin="s3"`` puts a ``LocalBucket`` named ``bucket_name`` in place of the
    container (see the module docstring): no secrets then, but an
    ``OriginAccessControl`` per edge (``ingest_access``,
    ``playback_access``) and the bucket policy ``origin_policy``;
    ``ingest_actions`` default to ``DEFAULT_S3_INGEST_ACTIONS``. ``origin``
    is the container or the bucket; ``container``, ``secret`` and the other
    MediaStore-only attributes raise ``LocalStackError`` for an S3 stack.

    Attributes are available between ``start`` and ``stop`` (use ``with``).
    """

    def __init__(
        self,
        *,
        faults: FaultPlan | None = None,
        clock: Callable[[], float] = time.time,
        key_algorithm: Literal["ecdsa", "rsa"] = "ecdsa",
        hash_algorithm: HashAlgorithm | str = "SHA256",
        key_pair: KeyPair | None = None,
        key_id: str | None = None,
        secret: IngestSecret | None = None,
        playback_secret: IngestSecret | None = None,
        container_name: str = "live",
        region: str = "us-west-2",
        account_id: str = "111122223333",
        ingest_actions: Sequence[str] | None = None,
        playback_signed: bool = True,
        edge_tls: bool = False,
        storage_dir: str | os.PathLike[str] | None = None,
        origin: Literal["mediastore", "s3"] = "mediastore",
        bucket_name: str = "live-origin",
        geography: Geography | str | None = None,
        signer: UrlSigner | None = None,
        trusted_keys: Mapping[str, PublicKeySource] | None = None,
    ) -> None:
        kind = _STACK_ORIGINS.get(origin) if isinstance(origin, str) else None
        if kind is None:
            known = " or ".join(repr(name) for name in _STACK_ORIGINS)
            raise InvalidInputError(f"origin must be {known}, not {origin!r}")
        if not kind.uses_secrets and (secret is not None or playback_secret is not None):
            raise InvalidInputError(
                f"origin={origin!r} uses Origin Access Control: secrets do not apply"
            )
        if key_algorithm not in ("ecdsa", "rsa"):
            raise InvalidInputError(
                f"key_algorithm must be 'ecdsa' or 'rsa', not {key_algorithm!r}"
            )
        if faults is not None and not isinstance(faults, FaultPlan):
            raise InvalidInputError("faults must be a FaultPlan")
        for what, given in (("secret", secret), ("playback_secret", playback_secret)):
            if given is not None and not isinstance(given, IngestSecret):
                raise InvalidInputError(
                    f"{what} must be an IngestSecret or None, not {type_name(given)}"
                )
        if secret is not None and playback_secret is not None and secret == playback_secret:
            raise InvalidInputError("the playback secret must differ from the ingest secret")
        if key_pair is not None and not isinstance(key_pair, KeyPair):
            raise InvalidInputError(
                f"key_pair must be a KeyPair or None, not {type_name(key_pair)}"
            )
        check_optional_str("key_id", key_id, empty=True)  # "" (like None): a new key id
        given_keys = _given_signer(signer, trusted_keys, key_pair, key_id)
        check_callable("clock", clock)
        check_path("storage_dir", storage_dir)
        # What the origin's ARNs are made of: checked now, not when starting.
        names = {"container_name": container_name, "bucket_name": bucket_name}
        kind.server.check_names(names[kind.name_argument], region, account_id)
        if ingest_actions is not None:
            ingest_actions = check_strs("ingest_actions", ingest_actions)
        self._faults = faults if faults is not None else FaultPlan.none()
        self._clock = clock
        self._key_algorithm = key_algorithm
        self._hash_algorithm = hash_algorithm
        self._key_pair_arg = key_pair
        self._key_id_arg = key_id
        self._secret_arg = secret
        self._playback_secret_arg = playback_secret
        self._container_name = container_name
        self._region = region
        self._account_id = account_id
        self._ingest_actions = kind.ingest_actions if ingest_actions is None else ingest_actions
        self._kind = kind
        self._origin = origin
        self._bucket_name = bucket_name
        self._playback_signed = playback_signed
        self._edge_tls = edge_tls
        self._storage_dir = storage_dir
        self._geography = None if geography is None else Geography.named(geography)
        self._signer_arg = signer
        self._trusted_keys_arg = given_keys
        self._parts: dict[str, Any] | None = None

    def __repr__(self) -> str:
        if self._parts is None:
            return "LocalStack(stopped)"
        return (
            f"LocalStack(ingest={self.ingest_base_url!r}, playback={self.playback_base_url!r}, "
            f"{self._kind.noun}={self.origin_endpoint!r})"
        )

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Make the keys and the policy, start the origin and both edges."""
        if self._parts is not None:
            raise LocalStackError("LocalStack is already running")
        parts: dict[str, Any]
        if self._signer_arg is not None:
            key_group = dict(self._trusted_keys_arg)
            parts = {"signer": self._signer_arg}
        else:
            key_pair = self._key_pair_arg or generate_key_pair(algorithm=self._key_algorithm)
            key_id = self._key_id_arg or new_key_id()
            signer = UrlSigner(
                key_id, key_pair.private_key, hash_algorithm=self._hash_algorithm, clock=self._clock
            )
            key_group = {key_id: key_pair.public_key}
            parts = {"key_pair": key_pair, "signer": signer}
        parts["trusted_keys"] = key_group
        started: list[Any] = []
        try:
            ca = LocalCA()
            started.append(ca)
            self._kind.start(self, parts, started, ca, key_group)
            if self._geography is not None:
                parts["links"] = start_links(
                    self._geography,
                    edge_url=parts["ingest_edge"].base_url,
                    origin_url=parts["origin"].endpoint,
                    started=started,
                )
                parts["links"]["edge_origin"] = parts.pop("edge_origin_link")
                parts["ingest_edge"].add_host_name(parts["links"]["encoder_edge"].netloc)
        except BaseException:
            _close_all(started)
            raise
        parts.update(ca=ca, started=started)
        self._parts = parts
        return self

    def _start_mediastore(
        self, parts: dict[str, Any], started: list[Any], ca: LocalCA, key_group: dict[str, Any]
    ) -> None:
        secret = self._secret_arg or IngestSecret.generate()
        playback_secret = self._playback_secret_arg or IngestSecret.generate()
        while playback_secret == secret:  # pragma: no cover - 62**40 to one
            playback_secret = IngestSecret.generate()
        policy = (
            ContainerPolicyBuilder(
                region=self._region, account_id=self._account_id, container=self._container_name
            )
            .allow_account_full_access()
            .allow_cloudfront_ingest(secret, actions=self._ingest_actions)
            .allow_cloudfront_read(playback_secret)
            .build()
        )
        parts.update(secret=secret, playback_secret=playback_secret, policy=policy)
        container = LocalContainer(
            self._container_name,
            region=self._region,
            account_id=self._account_id,
            policy=policy,
            tls=True,
            ca=ca,
            storage_dir=self._storage_dir,
        ).start()
        started.append(container)
        parts["origin"] = container
        ingest = LocalEdge(
            self._ingest_origin(container, container.endpoint, parts, started),
            key_group=key_group,
            allowed_methods=INGEST_METHODS,
            origin_headers={"User-Agent": secret.user_agent},
            origin_ca_bundle=ca.ca_bundle,
            clock=self._clock,
            faults=self._faults,
            tls=self._edge_tls,
            ca=ca,
            name="ingest",
        ).start()
        started.append(ingest)
        parts["ingest_edge"] = ingest
        playback = LocalEdge(
            container,
            key_group=key_group,
            require_signature=self._playback_signed,
            allowed_methods=PLAYBACK_METHODS,
            origin_headers={"User-Agent": playback_secret.user_agent},
            clock=self._clock,
            tls=self._edge_tls,
            ca=ca,
            name="playback",
        ).start()
        started.append(playback)
        parts["playback_edge"] = playback

    def _start_s3(
        self, parts: dict[str, Any], started: list[Any], ca: LocalCA, key_group: dict[str, Any]
    ) -> None:
        # The bucket starts first (the edges need its address), with no policy yet: the
        # policy names the edges' distribution ARNs, which exist once the edges do.
        bucket = LocalBucket(
            self._bucket_name,
            region=self._region,
            account_id=self._account_id,
            tls=True,
            ca=ca,
            credentials=DEFAULT_CREDENTIALS,
            storage_dir=self._storage_dir,
        ).start()
        started.append(bucket)
        parts["origin"] = bucket
        ingest_access = _new_origin_access(self._region)
        playback_access = _new_origin_access(self._region)
        ingest = LocalEdge(
            self._ingest_origin(bucket.origin_url, bucket.origin_url, parts, started),
            key_group=key_group,
            allowed_methods=INGEST_METHODS,
            origin_access=ingest_access,
            origin_ca_bundle=ca.ca_bundle,
            clock=self._clock,
            faults=self._faults,
            tls=self._edge_tls,
            ca=ca,
            name="ingest",
        )
        playback = LocalEdge(
            bucket.origin_url,
            key_group=key_group,
            require_signature=self._playback_signed,
            allowed_methods=PLAYBACK_METHODS,
            origin_access=playback_access,
            origin_ca_bundle=ca.ca_bundle,
            clock=self._clock,
            tls=self._edge_tls,
            ca=ca,
            name="playback",
        )
        ingest_arn = distribution_arn(self._account_id, ingest.distribution_id)
        playback_arn = distribution_arn(self._account_id, playback.distribution_id)
        for access, arn in ((ingest_access, ingest_arn), (playback_access, playback_arn)):
            bucket.add_credential(
                access.access_key_id,
                LocalCredential(
                    access.secret_access_key,
                    principal=CLOUDFRONT_SERVICE_PRINCIPAL,
                    source_arn=arn,
                    source_account=self._account_id,
                ),
            )
        policy = (
            BucketPolicyBuilder(bucket=self._bucket_name, account_id=self._account_id)
            .allow_cloudfront_ingest(ingest_arn, actions=self._ingest_actions)
            .allow_cloudfront_read(playback_arn)
            .deny_insecure_transport()
            .build()
        )
        bucket.put_policy(policy)
        parts.update(
            policy=policy,
            ingest_access=ingest_access,
            playback_access=playback_access,
            ingest_distribution_arn=ingest_arn,
            playback_distribution_arn=playback_arn,
        )
        started.append(ingest.start())
        parts["ingest_edge"] = ingest
        started.append(playback.start())
        parts["playback_edge"] = playback

    def _ingest_origin(
        self, origin: LocalContainer | str, url: str, parts: dict[str, Any], started: list[Any]
    ) -> LocalContainer | str:
        """What the ingest edge forwards to: ``origin``, or a long link to ``url``."""
        if self._geography is None:
            return origin
        link = start_origin_link(self._geography, url, started)
        parts["edge_origin_link"] = link
        return link.url_for(url)

    def stop(self) -> None:
        """Stop both edges and the container, and remove the CA files."""
        parts, self._parts = self._parts, None
        if parts is not None:
            _close_all(parts["started"])

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._parts is not None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _part(self, name: str) -> Any:
        if self._parts is None:
            raise LocalStackError("LocalStack is not running (use it as a context manager)")
        if name not in self._parts:
            raise LocalStackError(
                f"LocalStack(origin={self._origin!r}) has no {name.replace('_', ' ')}"
                + self._kind.missing_hint
            )
        return self._parts[name]

    @property
    def origin_kind(self) -> Literal["mediastore", "s3"]:
        """``"mediastore"`` or ``"s3"``: what the edges forward to."""
        return self._origin

    # --- what the stack made ---------------------------------------------------------------

    @property
    def signer(self) -> UrlSigner:
        """A ``UrlSigner`` both edges trust."""
        signer: UrlSigner = self._part("signer")
        return signer

    @property
    def key_pair(self) -> KeyPair:
        """The signing key pair (not for a stack given ``signer=``)."""
        if self._signer_arg is not None:
            raise LocalStackError(
                "this LocalStack signs with the signer= it was given: it holds no key pair"
            )
        pair: KeyPair = self._part("key_pair")
        return pair

    @property
    def key_id(self) -> str:
        """The CloudFront public key id ``signer`` signs with (in the key group)."""
        return self.signer.key_id

    @property
    def public_key(self) -> PublicKey:
        """The public key the edges verify ``signer``'s signatures with."""
        return self.key_group[self.key_id]

    @property
    def key_group(self) -> dict[str, PublicKey]:
        """The edges' trusted keys: ``{key_id: public_key}``."""
        keys: dict[str, PublicKey] = self._part("trusted_keys")
        return dict(keys)

    def set_trusted_keys(self, trusted_keys: Mapping[str, PublicKeySource]) -> None:
        """Give both edges a new key group (key id -> public key) while running, as
        ``UpdateKeyGroup`` does; for key rotation tests."""
        keys = _load_keys(trusted_keys)
        parts = self._parts
        if parts is None:
            raise LocalStackError("LocalStack is not running (use it as a context manager)")
        for edge in (self.ingest_edge, self.playback_edge):
            edge.set_trusted_keys(keys)
        parts["trusted_keys"] = keys

    @property
    def secret(self) -> IngestSecret:
        """The ``IngestSecret`` the ingest edge injects."""
        secret: IngestSecret = self._part("secret")
        return secret

    @property
    def playback_secret(self) -> IngestSecret:
        """The playback edge's own secret (differs from ``secret``)."""
        secret: IngestSecret = self._part("playback_secret")
        return secret

    @property
    def container_policy(self) -> ContainerPolicy:
        """Account full access + CloudFront ingest (secret) + CloudFront read (playback secret)."""
        if not isinstance(self.origin, LocalContainer):
            self._part("container policy")  # raises
        policy: ContainerPolicy = self._part("policy")
        return policy

    @property
    def origin_policy(self) -> ContainerPolicy | BucketPolicy:
        """The origin's policy: ``container_policy``, or for ``origin="s3"`` the
        bucket policy (ingest distribution writes, playback distribution reads, HTTPS)."""
        policy: ContainerPolicy | BucketPolicy = self._part("policy")
        return policy

    @property
    def origin(self) -> LocalContainer | LocalBucket:
        """What the edges forward to: the container, or the bucket for ``origin="s3"``."""
        origin: LocalContainer | LocalBucket = self._part("origin")
        return origin

    @property
    def container(self) -> LocalContainer:
        """The running ``LocalContainer``."""
        origin = self.origin
        if not isinstance(origin, LocalContainer):
            self._part("container")  # raises
        assert isinstance(origin, LocalContainer)
        return origin

    @property
    def bucket(self) -> LocalBucket:
        """The running ``LocalBucket`` (``origin="s3"``)."""
        origin = self.origin
        if not isinstance(origin, LocalBucket):
            self._part("bucket")  # raises
        assert isinstance(origin, LocalBucket)
        return origin

    @property
    def ingest_access(self) -> OriginAccessControl:
        """The ingest edge's Origin Access Control (``origin="s3"``)."""
        access: OriginAccessControl = self._part("ingest_access")
        return access

    @property
    def playback_access(self) -> OriginAccessControl:
        """The playback edge's Origin Access Control (``origin="s3"``)."""
        access: OriginAccessControl = self._part("playback_access")
        return access

    @property
    def ingest_distribution_arn(self) -> str:
        """``arn:aws:cloudfront::<account>:distribution/<ingest edge id>`` (``origin="s3"``)."""
        arn: str = self._part("ingest_distribution_arn")
        return arn

    @property
    def playback_distribution_arn(self) -> str:
        """The playback edge's distribution ARN (``origin="s3"``)."""
        arn: str = self._part("playback_distribution_arn")
        return arn

    @property
    def ingest_edge(self) -> LocalEdge:
        """The ingest distribution's edge."""
        edge: LocalEdge = self._part("ingest_edge")
        return edge

    @property
    def playback_edge(self) -> LocalEdge:
        """The playback distribution's edge."""
        edge: LocalEdge = self._part("playback_edge")
        return edge

    @property
    def ca(self) -> LocalCA:
        """The ``LocalCA`` behind every certificate."""
        ca: LocalCA = self._part("ca")
        return ca

    @property
    def ca_bundle(self) -> str:
        """Path of the CA PEM that signed the container's (and HTTPS edges') certificates."""
        return self.ca.ca_bundle

    @property
    def ingest_base_url(self) -> str:
        """The ingest "distribution", e.g. ``http://127.0.0.1:PORT`` (with a
        ``geography``: through the encoder → edge link)."""
        if self._geography is not None:
            return self.links["encoder_edge"].url_for(self.ingest_edge.base_url)
        return self.ingest_edge.base_url

    @property
    def geography(self) -> Geography | None:
        """The ``Geography`` the links model, if any."""
        return self._geography

    @property
    def links(self) -> dict[str, LongLink]:
        """The long links of a ``geography``: ``encoder_edge``, ``edge_origin``,
        ``encoder_origin``."""
        if self._geography is None:
            raise LocalStackError("this LocalStack has no long links (pass geography=...)")
        links: dict[str, LongLink] = self._part("links")
        return dict(links)

    @property
    def direct_origin_endpoint(self) -> str:
        """The origin's HTTPS endpoint as an encoder far from it reaches it directly:
        through the ``encoder_origin`` link (without a ``geography``: the endpoint)."""
        if self._geography is None:
            return self.origin_endpoint
        return self.links["encoder_origin"].url_for(self.origin_endpoint)

    @property
    def playback_base_url(self) -> str:
        """The playback "distribution"."""
        return self.playback_edge.base_url

    @property
    def container_endpoint(self) -> str:
        """The container's HTTPS data endpoint."""
        return self.container.endpoint

    @property
    def origin_endpoint(self) -> str:
        """The origin's HTTPS endpoint (container, or bucket: add ``/<bucket>/<key>``)."""
        return self.origin.endpoint

    @property
    def faults(self) -> FaultPlan:
        """The fault plan of the ingest edge."""
        return self._faults

    # --- conveniences ----------------------------------------------------------------------

    def ingest_url(self, path: str) -> str:
        """The unsigned ingest URL of object ``path``."""
        return f"{self.ingest_base_url}/{_path(path)}"

    def playback_url(self, path: str) -> str:
        """The unsigned playback URL of object ``path``."""
        return f"{self.playback_base_url}/{_path(path)}"

    def sign_ingest_url(
        self, path: str, *, expires: datetime.timedelta | int = datetime.timedelta(minutes=5)
    ) -> str:
        """A canned-policy signed ingest URL for ``path`` (``expires``: from the clock,
        or absolute epoch seconds)."""
        return self.signer.sign_url(self.ingest_url(path), expires=expires)

    def sign_playback_url(
        self, path: str, *, expires: datetime.timedelta | int = datetime.timedelta(minutes=5)
    ) -> str:
        """A canned-policy signed playback URL for ``path``."""
        return self.signer.sign_url(self.playback_url(path), expires=expires)

    def ingest_client(self, **kwargs: Any) -> IngestClient:
        """An ``IngestClient`` for the ingest edge, signing with
        ``signer`` and trusting ``ca_bundle`` (and sending
        ``x-amz-content-sha256`` for ``origin="s3"``); ``kwargs`` go to the client."""
        return self._client(self.ingest_base_url, kwargs)

    def playback_client(self, **kwargs: Any) -> IngestClient:
        """The same for reading through the playback edge."""
        if not self._playback_signed:
            kwargs.setdefault("signer", None)
        return self._client(self.playback_base_url, kwargs)

    def _client(self, base_url: str, kwargs: dict[str, Any]) -> IngestClient:
        from mediastore_ingest.ingest import IngestClient, IngestConfig

        kwargs.setdefault("signer", self.signer)
        kwargs.setdefault(
            "config",
            IngestConfig(ca_bundle=self.ca_bundle, origin=self._origin),
        )
        kwargs.setdefault("clock", self._clock)
        return IngestClient(base_url, **kwargs)


def _load_keys(trusted_keys: object) -> dict[str, PublicKey]:
    if not isinstance(trusted_keys, Mapping) or not trusted_keys:
        raise InvalidInputError("trusted_keys must be a non-empty mapping of key id -> public key")
    return {check_str("key id", kid): load_public_key(key) for kid, key in trusted_keys.items()}


def _given_signer(
    signer: object, trusted_keys: object, key_pair: object, key_id: object
) -> dict[str, PublicKey]:
    """Check ``signer=`` and ``trusted_keys=`` (they go together); the loaded keys."""
    if signer is None:
        if trusted_keys is not None:
            raise InvalidInputError("trusted_keys= goes with signer= (a generated key is trusted)")
        return {}
    if not isinstance(signer, UrlSigner):
        raise InvalidInputError(f"signer must be a UrlSigner or None, not {type_name(signer)}")
    if key_pair is not None or key_id:
        raise InvalidInputError("signer= brings its own key: give no key_pair= or key_id=")
    if trusted_keys is None:
        raise InvalidInputError("signer= needs trusted_keys= (key id -> public key) for the edges")
    keys = _load_keys(trusted_keys)
    if signer.key_id not in keys:
        raise InvalidInputError(f"trusted_keys has no key {signer.key_id} (the signer's key id)")
    return keys


def _path(path: object) -> str:
    return check_str("path", path, empty=True).lstrip("/")


def _close_all(parts: list[Any]) -> None:
    """Stop servers newest first, then remove the CA (which owns the files)."""
    first_error: BaseException | None = None
    for part in reversed(parts):
        try:
            if isinstance(part, LocalCA):
                continue
            part.stop()
        except BaseException as exc:  # keep stopping the others
            first_error = first_error or exc
    for part in parts:
        if isinstance(part, LocalCA):
            part.close()
    if first_error is not None:
        raise first_error


#: The origin kinds a ``LocalStack`` can build, by ``origin=`` name.
_STACK_ORIGINS: dict[str, _StackOrigin] = {
    "mediastore": _StackOrigin(
        server=LocalContainer,
        noun="container",
        name_argument="container_name",
        ingest_actions=DEFAULT_INGEST_ACTIONS,
        uses_secrets=True,
        missing_hint=" (it is a MediaStore stack)",
        start=LocalStack._start_mediastore,
    ),
    "s3": _StackOrigin(
        server=LocalBucket,
        noun="bucket",
        name_argument="bucket_name",
        ingest_actions=DEFAULT_S3_INGEST_ACTIONS,
        uses_secrets=False,
        missing_hint=" (an S3 origin: use stack.origin / stack.bucket; OAC, not secrets)",
        start=LocalStack._start_s3,
    ),
}
