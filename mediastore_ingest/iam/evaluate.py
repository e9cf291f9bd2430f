"""Offline evaluation of a container (or bucket) policy against one request.

Pure, no I/O: what the local MediaStore container and S3 bucket use to decide whether
a request is allowed, and what tests use to check a policy without AWS.
``evaluate_container_policy`` decides as IAM does for a resource-based policy and
refuses a policy it cannot decide rather than guess at it; its docstring lists the
rules, condition keys and operators it implements.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Container, Iterator, Mapping, Sequence

import attrs

from mediastore_ingest._internal.show import type_name
from mediastore_ingest._internal.validate import optional, text
from mediastore_ingest.errors import (
    ContainerPolicyError,
    InvalidInputError,
    UnsupportedPolicyFeatureError,
)
from mediastore_ingest.iam.document import Condition, ContainerPolicy, Principal, Statement
from mediastore_ingest.iam.secret import shown_hiding_secret
from mediastore_ingest.signing.policy import wildcard_match

__all__ = ["Decision", "EvaluationResult", "RequestContext", "evaluate_container_policy"]


class Decision(enum.Enum):
    """The outcome of evaluating a policy for one request."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


_NAMED_KEYS = (
    "aws:securetransport",
    "aws:useragent",
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourceaccount",
)
_PRINCIPAL_ARN = "aws:principalarn"
_PRINCIPAL_ACCOUNT = "aws:principalaccount"
_PRINCIPAL_TYPE = "aws:principaltype"

# principal ARN forms -> aws:PrincipalType, and whether the ARN is aws:PrincipalArn itself
_PRINCIPAL_FORMS: tuple[tuple[re.Pattern[str], str, bool], ...] = (
    (re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root", re.ASCII), "Account", True),
    (re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):user/.+", re.ASCII), "User", True),
    (re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/.+", re.ASCII), "AssumedRole", True),
    (re.compile(r"arn:aws[a-z-]*:sts::(\d{12}):assumed-role/[^/]+/.+", re.ASCII),
     "AssumedRole", False),
    (re.compile(r"arn:aws[a-z-]*:sts::(\d{12}):federated-user/.+", re.ASCII),
     "FederatedUser", True),
)
_PARTITION_RE = re.compile(r"arn:(aws[a-z-]*):", re.ASCII)


def _principal_keys(principal: str | None, resource: str) -> dict[str, str | None]:
    """``aws:PrincipalArn``/``Account``/``Type`` as IAM puts them in the request context.

    ``None`` means the key is absent from the request; a key left out of the result
    cannot be derived from ``principal`` without guessing (see ``evaluate_container_policy``).
    """
    if principal is None:
        return {_PRINCIPAL_ARN: None, _PRINCIPAL_ACCOUNT: None, _PRINCIPAL_TYPE: "Anonymous"}
    if re.fullmatch(r"\d{12}", principal, re.ASCII):
        out: dict[str, str | None] = {
            _PRINCIPAL_ACCOUNT: principal, _PRINCIPAL_TYPE: "Account"
        }
        partition = _PARTITION_RE.match(resource)
        if partition is not None:  # a caller is always in the partition of the resource
            out[_PRINCIPAL_ARN] = f"arn:{partition.group(1)}:iam::{principal}:root"
        return out
    for pattern, kind, is_arn in _PRINCIPAL_FORMS:
        match = pattern.fullmatch(principal)
        if match is not None:
            out = {_PRINCIPAL_ACCOUNT: match.group(1), _PRINCIPAL_TYPE: kind}
            if is_arn:
                out[_PRINCIPAL_ARN] = principal
            return out
    return {}


def _check_action(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9]+", value):
        raise InvalidInputError(
            f"action must look like 'mediastore:PutObject', got {shown_hiding_secret(value)}"
        )


def _check_resource(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(
            f"resource must be a non-empty str (an ARN), got {shown_hiding_secret(value)}"
        )


def _check_ip(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None:
        return
    try:
        ipaddress.ip_address(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"source_ip is not an IP address: {shown_hiding_secret(value)}"
        ) from exc


class _FrozenExtra(Mapping[str, tuple[str, ...]]):
    """Read-only, hashable snapshot of ``RequestContext.extra``: key (as given)
    to a tuple of values."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, tuple[str, ...]]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _FrozenExtra):
            return self._items == other._items
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._items)


def _freeze_extra(extra: Mapping[str, str | Sequence[str]]) -> _FrozenExtra:
    """Validate ``extra`` and copy it into an immutable mapping of tuples."""
    if isinstance(extra, _FrozenExtra):
        return extra
    if not isinstance(extra, Mapping):
        raise InvalidInputError(
            f"extra must be a mapping of condition keys to values, not {type_name(extra)}"
        )
    items: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for key, value in extra.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(
                f"condition keys must be non-empty str, got {shown_hiding_secret(key)}"
            )
        lowered = key.lower()
        if lowered in _NAMED_KEYS:
            raise InvalidInputError(
                f"{key!r} has its own RequestContext field; set that instead of extra"
            )
        if lowered in seen:
            raise InvalidInputError(f"condition key {key!r} given twice (keys ignore case)")
        seen.add(lowered)
        if isinstance(value, str):
            value = (value,)
        elif not isinstance(value, Sequence):
            raise InvalidInputError(f"the value of {key!r} must be a str or a sequence of str")
        values = tuple(v for v in value if isinstance(v, str))
        if len(values) != len(value):
            raise InvalidInputError(f"values of {key!r} must be str")
        items[key] = values
    return _FrozenExtra(items)


@attrs.frozen(kw_only=True)
class RequestContext:
    """What the policy is evaluated against: one request as MediaStore sees it.

    ``principal`` is ``None`` for an anonymous request, an IAM/STS ARN
    (``arn:aws:iam::111122223333:user/x``), a 12-digit account id, or a service
    principal (``cloudfront.amazonaws.com``); ``aws:PrincipalArn``,
    ``aws:PrincipalAccount`` and ``aws:PrincipalType`` are derived from it where IAM's
    value is certain. ``extra`` holds any other condition keys (names are
    case-insensitive; a str or a sequence of str each; an empty sequence declares the
    key absent), including a principal key that cannot be derived. A policy naming a
    key that is neither modelled nor in ``extra`` cannot be evaluated (see
    ``evaluate_container_policy``). ``extra`` is kept as a read-only copy (key to
    tuple of values), so a context is hashable. ``user_agent`` may hold a secret: it is
    left out of ``repr``.
    """

    action: str = attrs.field(validator=_check_action)
    resource: str = attrs.field(validator=_check_resource)
    principal: str | None = attrs.field(default=None, validator=optional(text()))
    secure_transport: bool = True
    user_agent: str | None = attrs.field(default=None, repr=False)
    source_ip: str | None = attrs.field(default=None, validator=_check_ip)
    source_arn: str | None = attrs.field(default=None, validator=optional(text()))
    source_account: str | None = attrs.field(default=None, validator=optional(text()))
    extra: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_freeze_extra)

    def __attrs_post_init__(self) -> None:
        if self.user_agent is not None and not isinstance(self.user_agent, str):
            raise InvalidInputError("user_agent must be a str or None")
        derived = _principal_keys(self.principal, self.resource)
        for key in self.extra:
            if key.lower() in derived:
                raise InvalidInputError(
                    f"{key!r} is derived from principal; it cannot also be given in extra"
                )

    def _all_keys(self) -> dict[str, tuple[str, ...]]:
        principal_keys = _principal_keys(self.principal, self.resource)
        out: dict[str, tuple[str, ...]] = {
            "aws:securetransport": ("true" if self.secure_transport else "false",)
        }
        for key, value in (
            ("aws:useragent", self.user_agent),
            ("aws:sourceip", self.source_ip),
            ("aws:sourcearn", self.source_arn),
            ("aws:sourceaccount", self.source_account),
            *principal_keys.items(),
        ):
            out[key] = () if value is None else (value,)
        out.update((key.lower(), values) for key, values in self.extra.items())
        return out

    def condition_values(self) -> dict[str, tuple[str, ...]]:
        """Every condition key present in the request (lower-cased) and its values."""
        return {key: values for key, values in self._all_keys().items() if values}

    def known_keys(self) -> frozenset[str]:
        """Every condition key (lower-cased) whose presence this context decides:
        the modelled and derived keys and those in ``extra``. A policy naming any
        other key cannot be evaluated (see ``evaluate_container_policy``)."""
        return frozenset(self._all_keys())


@attrs.frozen
class EvaluationResult:
    """The decision, the statement that made it, and why."""

    decision: Decision
    sid: str | None
    index: int | None
    reason: str

    @property
    def allowed(self) -> bool:
        """True only for ``Decision.ALLOW``."""
        return self.decision is Decision.ALLOW


# --- principals ----------------------------------------------------------------------

_IAM_ARN = re.compile(r"arn:[a-z-]+:(?:iam|sts)::(\d{12}):.+")
_ACCOUNT_ROOT = re.compile(r"arn:[a-z-]+:iam::(\d{12}):root")


def _principal_account(principal: str) -> str | None:
    if re.fullmatch(r"\d{12}", principal):
        return principal
    m = _IAM_ARN.fullmatch(principal)
    return m.group(1) if m else None


def _matches_principal(element: Principal, principal: str | None) -> bool:
    if element.is_public:
        return True
    if principal is None:
        return False
    if principal.lower() in (s.lower() for s in element.service):
        return True
    account = _principal_account(principal)
    for ident in element.aws:
        if ident == principal:
            return True
        root = _ACCOUNT_ROOT.fullmatch(ident)
        owner = root.group(1) if root else ident if re.fullmatch(r"\d{12}", ident) else None
        if owner is not None and owner == account:
            return True
    return principal in element.federated or principal in element.canonical_user


# --- conditions ----------------------------------------------------------------------

_Matcher = Callable[[str, str], bool]  # (policy value, request value) -> match


def _bool_match(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


def _ip_match(expected: str, actual: str) -> bool:
    try:
        network = ipaddress.ip_network(expected, strict=False)
    except ValueError as exc:
        raise ContainerPolicyError(f"not an IP address or CIDR block: {expected!r}") from exc
    try:
        address = ipaddress.ip_address(actual)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _arn_match(expected: str, actual: str) -> bool:
    # IAM compares the six colon-separated parts one by one; '*' and '?' stay within a part.
    want, got = expected.split(":", 5), actual.split(":", 5)
    return len(want) == len(got) == 6 and all(
        wildcard_match(w, g) for w, g in zip(want, got, strict=True)
    )


# base operator -> (matcher, negated)
_OPERATORS: dict[str, tuple[_Matcher, bool]] = {
    "Bool": (_bool_match, False),
    "StringEquals": (str.__eq__, False),
    "StringNotEquals": (str.__eq__, True),
    "StringEqualsIgnoreCase": (lambda e, a: e.casefold() == a.casefold(), False),
    "StringNotEqualsIgnoreCase": (lambda e, a: e.casefold() == a.casefold(), True),
    "StringLike": (wildcard_match, False),
    "StringNotLike": (wildcard_match, True),
    "IpAddress": (_ip_match, False),
    "NotIpAddress": (_ip_match, True),
    "ArnEquals": (_arn_match, False),
    "ArnLike": (_arn_match, False),
    "ArnNotEquals": (_arn_match, True),
    "ArnNotLike": (_arn_match, True),
}


@attrs.frozen
class _Operator:
    set_prefix: str | None  # "ForAnyValue" | "ForAllValues" | None
    base: str
    if_exists: bool


def _parse_operator(name: str) -> _Operator:
    prefix, _, rest = name.rpartition(":")
    if prefix not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedPolicyFeatureError(f"unsupported condition set operator {prefix!r}")
    if_exists = rest.endswith("IfExists")
    base = rest.removesuffix("IfExists") if if_exists else rest
    if base == "Null":
        if if_exists or prefix:
            raise UnsupportedPolicyFeatureError(f"{name} is not a valid condition operator")
    elif base not in _OPERATORS:
        raise UnsupportedPolicyFeatureError(
            f"condition operator {name!r} is not supported by the offline evaluator"
        )
    return _Operator(prefix or None, base, if_exists)


def _check_supported(policy: ContainerPolicy, known_keys: Container[str]) -> None:
    for i, st in enumerate(policy.statements):
        for cond in st.conditions:
            try:
                _parse_operator(cond.operator)
            except UnsupportedPolicyFeatureError as exc:
                raise UnsupportedPolicyFeatureError(f"Statement[{i}]: {exc}") from None
            if cond.key.lower() not in known_keys:
                raise UnsupportedPolicyFeatureError(
                    f"Statement[{i}]: {cond.operator} on condition key {cond.key!r}: the "
                    "offline evaluator does not model this key and the request context "
                    "does not give it; pass it in RequestContext(extra={...}) (an empty "
                    "value if the request has no such key)"
                )
            if cond.operator != "Bool" and any("${" in v for v in cond.values):
                raise UnsupportedPolicyFeatureError(
                    f"Statement[{i}]: policy variables (${{...}}) in {cond.operator} "
                    f"on {cond.key} are not supported"
                )
        if any("${" in r for r in (*st.resources, *st.not_resources)):
            raise UnsupportedPolicyFeatureError(
                f"Statement[{i}]: policy variables (${{...}}) in Resource are not supported"
            )


def _condition_holds(cond: Condition, present: Mapping[str, tuple[str, ...]]) -> bool:
    op = _parse_operator(cond.operator)
    actual = present.get(cond.key.lower())
    if op.base == "Null":
        # "true": the key must be absent; "false": it must be present.
        return any((v.lower() == "true") == (actual is None) for v in cond.values)
    matcher, negated = _OPERATORS[op.base]
    if not actual:
        if op.if_exists or op.set_prefix == "ForAllValues":
            return True
        return negated and op.set_prefix is None

    def hit(value: str) -> bool:
        return any(matcher(expected, value) for expected in cond.values)

    if op.set_prefix == "ForAllValues":
        return all(hit(v) != negated for v in actual)
    if op.set_prefix == "ForAnyValue":
        return any(hit(v) != negated for v in actual)
    matched = any(hit(v) for v in actual)
    return not matched if negated else matched


# --- statements ----------------------------------------------------------------------


def _applies(st: Statement, ctx: RequestContext, present: Mapping[str, tuple[str, ...]]) -> bool:
    if st.principal is not None:
        if not _matches_principal(st.principal, ctx.principal):
            return False
    elif st.not_principal is not None and _matches_principal(st.not_principal, ctx.principal):
        return False
    if not st.grants(ctx.action):
        return False
    if st.resources:
        if not any(wildcard_match(r, ctx.resource) for r in st.resources):
            return False
    elif any(wildcard_match(r, ctx.resource) for r in st.not_resources):
        return False
    return all(_condition_holds(c, present) for c in st.conditions)


def _coerce_policy(policy: ContainerPolicy | str | Mapping[str, object]) -> ContainerPolicy:
    if isinstance(policy, ContainerPolicy):
        return policy
    if isinstance(policy, str):
        return ContainerPolicy.from_json(policy)
    if isinstance(policy, Mapping):
        return ContainerPolicy.from_dict(policy)
    raise InvalidInputError(
        f"policy must be a ContainerPolicy, JSON text or a mapping, not {type_name(policy)}"
    )


def _describe(index: int, st: Statement) -> str:
    return f"Statement[{index}]" + (f" ({st.sid})" if st.sid else "")


def evaluate_container_policy(
    policy: ContainerPolicy | str | Mapping[str, object], context: RequestContext
) -> EvaluationResult:
    """Decide ``context`` against ``policy`` the way IAM would.

    The deciding statement is the first matching ``Deny`` if there is one, else the
    first matching ``Allow``. Raises
    ``UnsupportedPolicyFeatureError`` if the policy
    uses an operator or a condition key this evaluator does not implement, whatever
    the request, and ``ContainerPolicyError`` if it is
    malformed.

    IAM rules implemented (resource-based policy, one account, no identity policies):

    * an explicit ``Deny`` wins over any ``Allow``; without an ``Allow`` the request is
      implicitly denied;
    * ``Action``/``NotAction`` match with ``*``/``?`` wildcards, case-insensitively;
      ``Resource``/``NotResource`` case-sensitively (all wildcard matching, ``StringLike``
      and ``ArnLike`` included, is ``wildcard_match``:
      linear time, no regex backtracking);
    * ``Principal``/``NotPrincipal``: ``"*"`` and ``{"AWS": "*"}`` match everyone,
      anonymous callers included; ``{"AWS": "<account>"}`` or
      ``arn:aws:iam::<account>:root`` match every IAM/STS principal of that account;
      other ARNs match exactly; ``{"Service": ...}`` matches that service principal;
    * condition keys are case-insensitive, values case-sensitive except for
      ``...IgnoreCase`` and ``Bool``; several operators, and several keys in one
      operator, must all match; several values of a key are alternatives;
    * a key missing from the request makes a condition false, except that negated
      operators (``StringNotEquals``, ``NotIpAddress``, ``ArnNotLike`` ...) are then true,
      ``...IfExists`` is true, ``ForAllValues:`` is true, and ``Null`` tests presence.

    Which condition keys the evaluator knows (the rule that keeps it from guessing):

    * modelled from ``RequestContext`` fields: ``aws:SecureTransport``,
      ``aws:UserAgent``, ``aws:SourceIp``, ``aws:SourceArn``, ``aws:SourceAccount`` (a
      field left ``None`` means the key is absent from the request);
    * derived from ``principal`` as IAM puts them in the request context:
      ``aws:PrincipalType`` (``Anonymous`` for no principal, ``Account`` for an account id
      or ``arn:...:iam::<account>:root``, ``User`` for ``...:user/...``, ``AssumedRole``
      for a role ARN ``...:iam::<account>:role/...`` or an STS ``assumed-role`` session,
      ``FederatedUser`` for an STS ``federated-user``), ``aws:PrincipalAccount`` and
      ``aws:PrincipalArn`` (the role ARN for a role, the ARN itself otherwise; both absent
      for an anonymous caller). What cannot be derived without guessing is unknown: the
      ``aws:PrincipalArn`` of an STS session (the role's path is not in the session ARN)
      and all three for a service principal such as ``cloudfront.amazonaws.com``; pass
      such a value in ``extra``;
    * any other key, global (``aws:*``) or service-specific (``s3:*``, ``mediastore:*``
      ...), only through ``RequestContext(extra=...)``, where an empty value (``()``)
      declares the key absent from the request.

    A policy that names a key the request context does not know raises
    ``UnsupportedPolicyFeatureError`` before any decision,
    whatever the statement and the operator (``...IfExists`` and ``Null`` included):
    treating an unknown key as missing would turn a ``Deny`` into a silent allow.

    Supported operators: ``Bool``, ``StringEquals``, ``StringNotEquals``,
    ``StringEqualsIgnoreCase``, ``StringNotEqualsIgnoreCase``, ``StringLike``,
    ``StringNotLike``, ``IpAddress``, ``NotIpAddress``, ``ArnEquals``, ``ArnLike``,
    ``ArnNotEquals``, ``ArnNotLike``, ``Null``, each (but ``Null``) with ``IfExists`` and
    the ``ForAnyValue:``/``ForAllValues:`` prefixes. Anything else (``Numeric*``,
    ``Date*``, ``Binary*``, policy variables ``${...}``) raises
    ``UnsupportedPolicyFeatureError`` before any decision
    is made: an unknown condition is never a silent allow.
    """
    if not isinstance(context, RequestContext):
        raise InvalidInputError(f"context must be a RequestContext, not {type_name(context)}")
    parsed = _coerce_policy(policy)
    _check_supported(parsed, context.known_keys())
    present = context.condition_values()
    who = "an anonymous caller" if context.principal is None else context.principal
    request = f"{context.action} on {context.resource} by {who}"
    allow: tuple[int, Statement] | None = None
    for index, st in enumerate(parsed.statements):
        if not _applies(st, context, present):
            continue
        if st.effect == "Deny":
            return EvaluationResult(
                Decision.EXPLICIT_DENY, st.sid, index,
                f"{_describe(index, st)} explicitly denies {request}",
            )
        if allow is None:
            allow = (index, st)
    if allow is not None:
        index, st = allow
        return EvaluationResult(
            Decision.ALLOW, st.sid, index, f"{_describe(index, st)} allows {request}"
        )
    return EvaluationResult(
        Decision.IMPLICIT_DENY, None, None,
        f"no statement allows {request} (implicit deny)",
    )
