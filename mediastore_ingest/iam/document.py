"""IAM policy documents of origin resources: a container or bucket policy, parsed
and written.

``ContainerPolicy`` holds ``Statement`` objects, each with its
``Principal`` and ``Condition`` elements. ``from_json`` accepts any
well-formed policy (any key order, a string or a list where IAM takes either) and
names the offending element when it refuses one; ``to_json`` writes compact, stable,
ASCII JSON within MediaStore's limits. ``ContainerPolicy.findings`` lints a policy
(see ``lint``); ``evaluate``
decides a request against it offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import attrs

from mediastore_ingest._internal.jsonutil import compact_json, strict_loads
from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import (
    check,
    check_instances,
    instance_of,
    optional,
    str_items,
)
from mediastore_ingest.errors import ContainerPolicyError
from mediastore_ingest.iam.secret import IngestSecret, masked, shown_hiding_secret
from mediastore_ingest.signing.policy import wildcard_match

if TYPE_CHECKING:
    from mediastore_ingest.iam.lint import Finding

__all__ = [
    "MAX_POLICY_LENGTH",
    "POLICY_VERSION",
    "Condition",
    "ContainerPolicy",
    "Principal",
    "Statement",
]

#: The policy language version the builders write.
POLICY_VERSION = "2012-10-17"
#: MediaStore refuses container policies longer than this (characters, compact JSON).
MAX_POLICY_LENGTH = 8192

_VERSIONS = ("2012-10-17", "2008-10-17")
_OPERATOR_RE = re.compile(r"(?:ForAnyValue:|ForAllValues:)?[A-Za-z]+", re.ASCII)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _no_surrogate(text: str, what: str) -> str:
    """``text``, unless it holds a lone surrogate: that is not Unicode text and cannot
    be written as UTF-8, so it is a ``ContainerPolicyError`` naming ``what``."""
    if _SURROGATE.search(text):
        raise ContainerPolicyError(
            f"{what} holds a lone surrogate (\\ud800-\\udfff), which is not Unicode text"
        )
    return text


def _strings(value: object, what: str) -> tuple[str, ...]:
    """A str or an iterable of non-empty str, as a tuple (never shown in a message:
    condition values hold secrets), each checked to be Unicode text."""
    items = str_items(value, what, error=ContainerPolicyError)
    for item in items:
        _no_surrogate(item, what)
    return items


def _principal_ids(value: str | Iterable[str]) -> tuple[str, ...]:
    return _strings(value, "principal identifiers")


def _condition_values(value: str | Iterable[str]) -> tuple[str, ...]:
    return _strings(value, "condition values")


def _actions(value: str | Iterable[str]) -> tuple[str, ...]:
    return _strings(value, "Action/NotAction")


def _resources(value: str | Iterable[str]) -> tuple[str, ...]:
    return _strings(value, "Resource/NotResource")


def _one_or_many(values: tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


_PRINCIPAL_TYPES = {
    "AWS": "aws",
    "Service": "service",
    "Federated": "federated",
    "CanonicalUser": "canonical_user",
}


@attrs.frozen(kw_only=True)
class Principal:
    """The ``Principal`` (or ``NotPrincipal``) element of a statement.

    ``everyone=True`` is the JSON string ``"*"``; otherwise the identifiers by type,
    e.g. ``Principal(aws="arn:aws:iam::111122223333:root")`` or
    ``Principal(service="cloudfront.amazonaws.com")``.
    """

    everyone: bool = False
    aws: tuple[str, ...] = attrs.field(default=(), converter=_principal_ids)
    service: tuple[str, ...] = attrs.field(default=(), converter=_principal_ids)
    federated: tuple[str, ...] = attrs.field(default=(), converter=_principal_ids)
    canonical_user: tuple[str, ...] = attrs.field(default=(), converter=_principal_ids)

    def __attrs_post_init__(self) -> None:
        typed = self.aws or self.service or self.federated or self.canonical_user
        if bool(self.everyone) == bool(typed):
            raise ContainerPolicyError(
                'a principal is either everyone ("*") or at least one typed identifier'
            )

    @classmethod
    def anyone(cls) -> Principal:
        """``"Principal": "*"`` — every caller, anonymous ones included."""
        return cls(everyone=True)

    @property
    def is_public(self) -> bool:
        """True for ``"*"`` and ``{"AWS": "*"}`` (AWS treats them alike)."""
        return self.everyone or "*" in self.aws

    def to_json_value(self) -> str | dict[str, str | list[str]]:
        """The JSON value of the element (``"*"`` or an object)."""
        if self.everyone:
            return "*"
        out: dict[str, str | list[str]] = {}
        for name, field in _PRINCIPAL_TYPES.items():
            values: tuple[str, ...] = getattr(self, field)
            if values:
                out[name] = _one_or_many(values)
        return out

    @classmethod
    def _parse(cls, value: object, where: str) -> Principal:
        if value == "*":
            return cls(everyone=True)
        if not isinstance(value, Mapping) or not value:
            raise ContainerPolicyError(f'{where}: expected "*" or a non-empty object')
        fields: dict[str, tuple[str, ...]] = {}
        for name, ids in value.items():
            if name not in _PRINCIPAL_TYPES:
                raise ContainerPolicyError(
                    f"{where}: unknown principal type {name!r} "
                    f"(expected one of {', '.join(_PRINCIPAL_TYPES)})"
                )
            fields[_PRINCIPAL_TYPES[name]] = _parse_strings(ids, f"{where}.{name}")
        return cls(
            aws=fields.get("aws", ()),
            service=fields.get("service", ()),
            federated=fields.get("federated", ()),
            canonical_user=fields.get("canonical_user", ()),
        )


@attrs.frozen
class Condition:
    """One ``operator`` / ``key`` pair of a ``Condition`` block and its values.

    ``Condition("StringEquals", "aws:UserAgent", ("MediaStore-Secret-…",))`` is
    ``"Condition": {"StringEquals": {"aws:UserAgent": "MediaStore-Secret-…"}}``.
    Several values are alternatives (OR); several conditions all apply (AND). At
    least one value is required, and ``Null`` takes only ``"true"``/``"false"``.
    ``repr`` masks the values of ``aws:UserAgent`` (they hold the ingest secret);
    ``ContainerPolicy.to_json`` writes them in full.
    """

    operator: str
    key: str
    values: tuple[str, ...] = attrs.field(converter=_condition_values)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.operator, str) or not _OPERATOR_RE.fullmatch(self.operator):
            raise ContainerPolicyError(
                f"not a condition operator name: {shown_hiding_secret(self.operator)}"
            )
        if not isinstance(self.key, str) or not self.key:
            raise ContainerPolicyError(
                f"a condition key must be a non-empty str, got {shown_hiding_secret(self.key)}"
            )
        _no_surrogate(self.key, "a condition key")
        if not self.values:
            raise ContainerPolicyError(
                f"{self.operator} on {self.key!r} needs at least one value"
            )
        if self.operator == "Null":
            for value in self.values:
                if value.lower() not in ("true", "false"):
                    raise ContainerPolicyError(
                        f"Null on {self.key!r} takes 'true' or 'false' (key absent or present)"
                    )

    def __repr__(self) -> str:
        values = (
            tuple(masked(v) for v in self.values)
            if self.key.lower() == "aws:useragent"
            else self.values
        )
        return f"Condition(operator={self.operator!r}, key={self.key!r}, values={values!r})"


def _canonical_conditions(conditions: Iterable[Condition]) -> tuple[Condition, ...]:
    """Group by operator (first appearance order), as the JSON form will."""
    if not isinstance(conditions, Iterable) or isinstance(conditions, (str, bytes, Mapping)):
        raise ContainerPolicyError(
            f"conditions must be an iterable of Condition objects, "
            f"got {type_name(conditions)}"
        )
    by_operator: dict[str, list[Condition]] = {}
    seen: set[tuple[str, str]] = set()
    for cond in conditions:
        if not isinstance(cond, Condition):
            # Never the value: a tuple such as ("StringEquals", "aws:UserAgent", ...)
            # holds the secret.
            raise ContainerPolicyError(
                f"conditions must be Condition objects, got {type_name(cond)}"
            )
        if (cond.operator, cond.key) in seen:
            raise ContainerPolicyError(
                f"condition {cond.operator} on {cond.key!r} appears twice"
            )
        seen.add((cond.operator, cond.key))
        by_operator.setdefault(cond.operator, []).append(cond)
    return tuple(c for group in by_operator.values() for c in group)


Effect = Literal["Allow", "Deny"]


def _check_effect(instance: object, attribute: object, value: object) -> None:
    if not isinstance(value, str) or value not in ("Allow", "Deny"):
        raise ContainerPolicyError(
            f'effect must be "Allow" or "Deny", got {shown_hiding_secret(value, 16)}'
        )


@attrs.frozen(kw_only=True)
class Statement:
    """One policy statement.

    Exactly one of ``principal``/``not_principal``, one of ``actions``/``not_actions``
    and one of ``resources``/``not_resources`` is set. ``conditions`` are kept grouped
    by operator, in the order the JSON form writes them.
    """

    effect: Effect = attrs.field(validator=_check_effect)
    sid: str | None = None
    principal: Principal | None = None
    not_principal: Principal | None = None
    actions: tuple[str, ...] = attrs.field(default=(), converter=_actions)
    not_actions: tuple[str, ...] = attrs.field(default=(), converter=_actions)
    resources: tuple[str, ...] = attrs.field(default=(), converter=_resources)
    not_resources: tuple[str, ...] = attrs.field(default=(), converter=_resources)
    conditions: tuple[Condition, ...] = attrs.field(
        default=(), converter=_canonical_conditions
    )

    def __attrs_post_init__(self) -> None:
        if self.sid is not None and (not isinstance(self.sid, str) or not self.sid):
            raise ContainerPolicyError(
                f"Sid must be a non-empty str or None, got {shown_hiding_secret(self.sid)}"
            )
        if self.sid is not None:
            _no_surrogate(self.sid, "Sid")
        for a, b in (
            ("principal", "not_principal"),
            ("actions", "not_actions"),
            ("resources", "not_resources"),
        ):
            if bool(getattr(self, a)) == bool(getattr(self, b)):
                label = f"statement {self.sid!r}" if self.sid else "a statement"
                raise ContainerPolicyError(f"{label} needs exactly one of {a} and {b}")
        for p in (self.principal, self.not_principal):
            if p is not None and not isinstance(p, Principal):
                raise ContainerPolicyError(f"expected a Principal, got {type_name(p)}")

    def grants(self, action: str) -> bool:
        """Whether the Action/NotAction element covers ``action`` (conditions aside)."""
        if self.actions:
            return any(wildcard_match(p, action, case_sensitive=False) for p in self.actions)
        return not any(
            wildcard_match(p, action, case_sensitive=False) for p in self.not_actions
        )

    def to_json_value(self) -> dict[str, object]:
        """The statement as a JSON object, keys in AWS's usual order."""
        out: dict[str, object] = {}
        if self.sid is not None:
            out["Sid"] = self.sid
        out["Effect"] = self.effect
        if self.principal is not None:
            out["Principal"] = self.principal.to_json_value()
        if self.not_principal is not None:
            out["NotPrincipal"] = self.not_principal.to_json_value()
        for name, values in (
            ("Action", self.actions),
            ("NotAction", self.not_actions),
            ("Resource", self.resources),
            ("NotResource", self.not_resources),
        ):
            if values:
                out[name] = _one_or_many(values)
        if self.conditions:
            block: dict[str, dict[str, str | list[str]]] = {}
            for cond in self.conditions:
                vals: str | list[str] = (
                    cond.values[0] if len(cond.values) == 1 else list(cond.values)
                )
                block.setdefault(cond.operator, {})[cond.key] = vals
            out["Condition"] = block
        return out

    @classmethod
    def _parse(cls, obj: object, where: str) -> Statement:
        if not isinstance(obj, Mapping):
            raise ContainerPolicyError(f"{where}: expected an object")
        unknown = set(obj) - _STATEMENT_KEYS
        if unknown:
            raise ContainerPolicyError(
                f"{where}: unknown element(s) {', '.join(sorted(map(str, unknown)))}"
            )
        sid = obj.get("Sid")
        if sid is not None and (not isinstance(sid, str) or not sid):
            raise ContainerPolicyError(f"{where}.Sid: expected a non-empty string")
        effect = obj.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ContainerPolicyError(
                f'{where}.Effect: expected "Allow" or "Deny", got {shown_hiding_secret(effect, 16)}'
            )
        fields: dict[str, object] = {}
        for name, field in (("Principal", "principal"), ("NotPrincipal", "not_principal")):
            if name in obj:
                fields[field] = Principal._parse(obj[name], f"{where}.{name}")
        for name, field in _LIST_ELEMENTS:
            if name in obj:
                fields[field] = _parse_strings(obj[name], f"{where}.{name}")
        for a, b in (("Principal", "NotPrincipal"), ("Action", "NotAction"),
                     ("Resource", "NotResource")):
            if (a in obj) == (b in obj):
                raise ContainerPolicyError(f"{where}: expected exactly one of {a} and {b}")
        conditions: list[Condition] = []
        if "Condition" in obj:
            block = obj["Condition"]
            if not isinstance(block, Mapping):
                raise ContainerPolicyError(f"{where}.Condition: expected an object")
            for op, keys in block.items():
                here = f"{where}.Condition.{op}"
                if not isinstance(op, str) or not _OPERATOR_RE.fullmatch(op):
                    raise ContainerPolicyError(f"{here}: not a condition operator name")
                if not isinstance(keys, Mapping) or not keys:
                    raise ContainerPolicyError(f"{here}: expected a non-empty object")
                for key, values in keys.items():
                    if not key:
                        raise ContainerPolicyError(f"{here}: empty condition key")
                    parsed = _parse_strings(values, f"{here}.{key}", scalars=True)
                    if not parsed:
                        raise ContainerPolicyError(
                            f"{here}.{key}: expected at least one value"
                        )
                    if op == "Null" and any(v.lower() not in ("true", "false") for v in parsed):
                        raise ContainerPolicyError(
                            f"{here}.{key}: Null takes 'true' or 'false' (key absent or "
                            "present)"
                        )
                    conditions.append(Condition(op, key, parsed))
        return cls(effect=effect, sid=sid, conditions=conditions, **fields)  # type: ignore[arg-type]


_STATEMENT_KEYS = frozenset(
    ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
     "NotResource", "Condition")
)
_LIST_ELEMENTS = (
    ("Action", "actions"),
    ("NotAction", "not_actions"),
    ("Resource", "resources"),
    ("NotResource", "not_resources"),
)


def _parse_strings(value: object, where: str, *, scalars: bool = False) -> tuple[str, ...]:
    """A JSON string or list of strings; condition values may also be bools/numbers."""
    items = value if isinstance(value, list) else [value]
    if not items and not scalars:
        raise ContainerPolicyError(f"{where}: expected at least one value")
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and (item or scalars):
            out.append(item)
        elif scalars and isinstance(item, bool):
            out.append("true" if item else "false")
        elif scalars and isinstance(item, (int, float)):
            out.append(json.dumps(item))
        else:
            kind = "an empty string" if isinstance(item, str) else _json_kind(item)
            raise ContainerPolicyError(f"{where}: expected a non-empty string, got {kind}")
    return tuple(out)


def _json_kind(value: object) -> str:
    """The JSON name of a decoded value's type (never the value: it may be a secret)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type_name(value)


def _statement_tuple(statements: Iterable[Statement]) -> tuple[Statement, ...]:
    if not isinstance(statements, Iterable) or isinstance(statements, (str, bytes, Mapping)):
        raise ContainerPolicyError(
            f"statements must be an iterable of Statement objects, "
            f"got {type_name(statements)}"
        )
    return tuple(statements)


@attrs.frozen(kw_only=True)
class ContainerPolicy:
    """A container (or bucket) policy document.

    Build one with a policy builder
    (``ContainerPolicyBuilder``) or parse one with
    ``from_json``; ``from_json(p.to_json()) == p``.
    """

    statements: tuple[Statement, ...] = attrs.field(converter=_statement_tuple)
    version: str = POLICY_VERSION
    policy_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.version not in _VERSIONS:
            raise ContainerPolicyError(
                f"Version must be one of {', '.join(_VERSIONS)}, "
                f"got {shown_hiding_secret(self.version, 16)}"
            )
        if not self.statements:
            raise ContainerPolicyError("a policy needs at least one statement")
        for st in self.statements:
            if not isinstance(st, Statement):
                # Never the value: a dict statement holds the secret of its condition.
                raise ContainerPolicyError(
                    f"statements must be Statement objects, got {type_name(st)}"
                )
        if self.policy_id is not None and (
            not isinstance(self.policy_id, str) or not self.policy_id
        ):
            raise ContainerPolicyError(
                f"Id must be a non-empty str or None, got {shown_hiding_secret(self.policy_id)}"
            )
        if self.policy_id is not None:
            _no_surrogate(self.policy_id, "the policy Id")

    # -- serialise -----------------------------------------------------------------

    def to_dict(self) -> dict[str, object]:
        """The document as plain JSON-ready Python objects."""
        out: dict[str, object] = {"Version": self.version}
        if self.policy_id is not None:
            out["Id"] = self.policy_id
        out["Statement"] = [st.to_json_value() for st in self.statements]
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        """Compact JSON (or pretty with ``indent``), as MediaStore accepts it.

        Raises ``ContainerPolicyError`` if the compact form is longer than
        ``MAX_POLICY_LENGTH`` characters or holds a non-ASCII character, which
        MediaStore refuses. The size is always measured on the compact form.
        """
        check_indent(indent)
        document = self.to_dict()
        text = compact_json(document)
        if not text.isascii():
            where = next(
                (f"Statement[{i}]" for i, st in enumerate(self.statements)
                 if not compact_json(st.to_json_value()).isascii()),
                "Id",
            )
            raise ContainerPolicyError(
                f"{where} holds a non-ASCII character; MediaStore accepts ASCII policies only"
            )
        if len(text) > MAX_POLICY_LENGTH:
            raise ContainerPolicyError(
                f"the policy is {len(text)} characters long; MediaStore accepts at most "
                f"{MAX_POLICY_LENGTH}"
            )
        if indent is None:
            return text
        return json.dumps(document, indent=indent)

    # -- parse ---------------------------------------------------------------------

    @classmethod
    def from_json(cls, text: str | bytes) -> ContainerPolicy:
        """Parse a policy document; any key order, string-or-list values.

        Raises ``ContainerPolicyError`` naming the offending element, e.g.
        ``Statement[1].Condition.Bool: expected a non-empty object``.
        """
        if not isinstance(text, (str, bytes)):
            raise ContainerPolicyError(f"expected JSON text, got {type_name(text)}")
        return cls.from_dict(strict_loads(text, error=ContainerPolicyError, what="the policy"))

    @classmethod
    def from_dict(cls, document: object) -> ContainerPolicy:
        """Like ``from_json``, for an already-decoded JSON object."""
        if not isinstance(document, Mapping):
            raise ContainerPolicyError("policy: expected a JSON object")
        unknown = set(document) - {"Version", "Id", "Statement"}
        if unknown:
            raise ContainerPolicyError(
                f"policy: unknown element(s) {', '.join(sorted(map(str, unknown)))}"
            )
        # IAM's default when Version is absent is the old language version.
        version = document.get("Version", "2008-10-17")
        if not isinstance(version, str) or version not in _VERSIONS:
            raise ContainerPolicyError(
                f"Version: expected one of {', '.join(_VERSIONS)}, "
                f"got {shown_hiding_secret(version, 16)}"
            )
        policy_id = document.get("Id")
        if policy_id is not None and (not isinstance(policy_id, str) or not policy_id):
            raise ContainerPolicyError("Id: expected a non-empty string")
        if "Statement" not in document:
            raise ContainerPolicyError("policy: Statement is missing")
        raw = document["Statement"]
        raw_list = raw if isinstance(raw, list) else [raw]
        if not raw_list:
            raise ContainerPolicyError("Statement: expected at least one statement")
        statements = [Statement._parse(obj, f"Statement[{i}]") for i, obj in enumerate(raw_list)]
        return cls(statements=statements, version=version, policy_id=policy_id)

    # -- lint ----------------------------------------------------------------------

    def findings(
        self, *, known_secrets: Iterable[IngestSecret] | None = None
    ) -> tuple[Finding, ...]:
        """Lint the policy; see ``Finding`` for the codes.

        ``known_secrets``: the secrets your distributions really send; an
        ``aws:UserAgent`` condition matching none of them is reported.
        """
        # lint builds on this module, so it is imported when it is needed
        from mediastore_ingest.iam.lint import policy_findings

        return policy_findings(self, known_secrets)


def check_statements(statements: object) -> tuple[Statement, ...]:
    """A policy builder's ``statements``: an iterable of ``Statement``, as a
    tuple; an ``InvalidInputError`` otherwise."""
    return check_instances("statements", statements, Statement)


def check_indent(indent: object) -> None:
    """Refuse an ``indent`` that ``json.dumps`` does not take (``to_json(indent=...)``)."""
    check("indent", indent, optional(instance_of((int, str), "an int or a str")))
