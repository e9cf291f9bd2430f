"""The plan of a provisioning run: one step per resource, and what it would do to it.

``plan`` returns it without changing
anything; ``apply`` returns the plan of what it did.
"""

from __future__ import annotations

import json
from typing import Literal

import attrs

from mediastore_ingest._internal.jsonutil import strict_loads
from mediastore_ingest.provisioning.engine import label_of

__all__ = ["Action", "Plan", "PlanStep", "compare_canonical", "compare_json"]

#: What a step does to its resource.
Action = Literal["create", "update", "reuse", "unchanged"]


@attrs.frozen
class PlanStep:
    """One resource in a ``Plan``: what would be (or was) done to it."""

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
    """The ordered steps of a provisioning run; printable; computing it changed nothing.

    ``container_name`` is the origin's name: the bucket name when ``origin`` is ``"s3"``.
    """

    region: str
    container_name: str
    steps: tuple[PlanStep, ...]
    origin: str = "mediastore"

    @property
    def changes(self) -> tuple[PlanStep, ...]:
        """The steps that create or update something."""
        return tuple(s for s in self.steps if s.changes)

    @property
    def is_noop(self) -> bool:
        """True when applying would change nothing."""
        return not self.changes

    def __str__(self) -> str:
        head = f"Plan for {label_of(self.origin)} {self.container_name!r} in {self.region}:"
        lines = [head, *(f"  {step}" for step in self.steps)]
        tail = "  nothing to change" if self.is_noop else f"  {len(self.changes)} change(s)"
        return "\n".join([*lines, tail])


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def compare_canonical(wanted: object, current: object) -> Action:
    """The action that turns ``current`` (``None``: absent) into ``wanted``, both
    JSON-shaped values."""
    if current is None:
        return "create"
    return "unchanged" if _canonical(current) == _canonical(wanted) else "update"


def compare_json(wanted: str, current: object) -> Action:
    """The action that turns the JSON text ``current`` (``None``: absent) into the
    JSON text ``wanted``; text that cannot be read is replaced."""
    if current is None:
        return "create"
    try:
        same = strict_loads(str(current), error=ValueError) == strict_loads(
            wanted, error=ValueError
        )
    except ValueError:
        same = False
    return "unchanged" if same else "update"
