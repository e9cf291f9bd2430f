"""The ``Provisioner``: plan and apply an ingest setup on AWS, idempotently.

It runs the origin's engine (a MediaStore container, or an S3 bucket behind an Origin
Access Control), then the CloudFront public key, key group and distributions, and
returns the ``IngestSetup`` that records them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mediastore_ingest._internal.validate import check, int_in, is_callable, number
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.provisioning import cloudfront
from mediastore_ingest.provisioning.aws import Aws
from mediastore_ingest.provisioning.engine import Distribution, engine_for
from mediastore_ingest.provisioning.plan import Plan, PlanStep
from mediastore_ingest.provisioning.setup import IngestSetup
from mediastore_ingest.provisioning.spec import ProvisioningSpec

if TYPE_CHECKING:  # pragma: no cover
    import botocore.session

__all__ = ["Provisioner"]

logger = logging.getLogger(__name__)


class Provisioner:
    """Plan and apply an ingest setup with botocore.

    ``session`` is your ``botocore.session.Session`` (default: a new session,
    which follows the usual credential chain). ``region`` is the MediaStore (or S3
    bucket) region (default: the session's region). ``endpoint_url`` overrides the
    endpoint, either one URL for every service or a mapping
    ``{"mediastore": url, "cloudfront": url, "s3": url}``. Or pass ready clients as
    ``mediastore_client`` / ``cloudfront_client`` / ``s3_client``. Clients are created
    on first use, so an S3 setup never creates a MediaStore client.

    ``sleep``, ``poll_interval`` and ``max_polls`` govern waiting for the container
    to become ``ACTIVE`` (and for distributions to deploy when asked to).

    What ``apply`` does, in order, each step *create*, *update* or
    *reuse/unchanged*: the origin and its settings (see
    ``ProvisioningSpec``); the CloudFront public
    key (one with the same name and key is reused, the same name with another key is
    an error); the key group that trusts it; the ingest and, optionally, the playback
    distribution, found again on a second run by a ``CallerReference`` derived from
    the origin's name and the role; for an S3 origin, last, the bucket policy naming
    the distributions' ARNs. ``plan`` is the dry run: only read calls. Running
    ``apply`` twice changes nothing the second time.

    Every botocore failure surfaces as a
    ``ProvisioningError`` carrying ``operation`` and
    ``code``, chained with ``raise ... from``. Secrets are never logged and are
    redacted from error messages.
    """

    def __init__(
        self,
        session: botocore.session.Session | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | Mapping[str, str] | None = None,
        mediastore_client: Any = None,
        cloudfront_client: Any = None,
        s3_client: Any = None,
        client_config: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 5.0,
        max_polls: int = 60,
    ) -> None:
        if region is None:
            if mediastore_client is not None:
                region = mediastore_client.meta.region_name
            elif s3_client is not None:
                region = s3_client.meta.region_name
            else:
                if session is None:
                    import botocore.session as _bs

                    session = _bs.get_session()
                region = session.get_config_variable("region")
        if not isinstance(region, str) or not region:
            raise InvalidInputError(
                "no region: pass region=... or configure one in the botocore session"
            )
        check("max_polls", max_polls, int_in(1))
        check("sleep", sleep, is_callable())
        check("poll_interval", poll_interval, number(zero=True, infinite=True))
        self.region = region
        self._aws = Aws(
            session,
            region=region,
            endpoint_url=endpoint_url,
            client_config=client_config,
            clients={
                "mediastore": mediastore_client,
                "cloudfront": cloudfront_client,
                "s3": s3_client,
            },
            sleep=sleep,
            poll_interval=poll_interval,
            max_polls=max_polls,
        )

    def plan(self, spec: ProvisioningSpec) -> Plan:
        """Work out what ``apply`` would do, making only read-only AWS calls."""
        steps, _ = self._run(spec, execute=False)
        return Plan(
            region=self.region, container_name=spec.name, steps=steps, origin=spec.origin
        )

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
        """Like ``apply``, also returning the plan of what was actually done."""
        steps, setup = self._run(spec, execute=True, wait=wait_for_deployment)
        assert setup is not None
        plan = Plan(
            region=self.region, container_name=spec.name, steps=steps, origin=spec.origin
        )
        return plan, setup

    def _run(
        self, spec: ProvisioningSpec, *, execute: bool, wait: bool = False
    ) -> tuple[tuple[PlanStep, ...], IngestSetup | None]:
        aws = self._aws
        engine = engine_for(spec.origin)
        steps: list[PlanStep] = []
        with aws.hiding(engine.secrets(spec)):
            state = engine.prepare(aws, spec, execute, steps)
            key_id = cloudfront.public_key(aws, spec, execute, steps)
            group_id = cloudfront.key_group(aws, spec, key_id, execute, steps)
            ingest = cloudfront.distribution(
                aws, spec, "ingest", engine, state, group_id, execute, steps
            )
            playback: Distribution | None = None
            if spec.playback:
                playback = cloudfront.distribution(
                    aws, spec, "playback", engine, state, group_id, execute, steps
                )
            engine.after_distributions(aws, spec, state, ingest, playback, execute, steps)
            if wait:
                for dist in (ingest, playback):
                    if dist is not None:
                        cloudfront.wait_deployed(aws, dist[0])
        for step in steps:
            logger.info("%s %s: %s", "applied" if execute else "planned", spec.name, step)
        if not execute:
            return tuple(steps), None
        assert key_id is not None
        assert group_id is not None
        assert ingest is not None
        return tuple(steps), IngestSetup(
            **engine.origin_record(aws, spec, state, ingest),
            region=self.region,
            public_key_id=key_id,
            key_group_id=group_id,
            ingest_distribution_id=ingest[0],
            ingest_distribution_domain=ingest[1],
            playback_distribution_id=playback[0] if playback else None,
            playback_distribution_domain=playback[1] if playback else None,
        )
