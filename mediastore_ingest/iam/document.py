"""MediaStore container policies that let only the ingest distribution write.

Layer 5: pure, no I/O. Randomness is a parameter (``IngestSecret.generate(rng=...)``).

* :class:`IngestSecret` — the secret the ingest (or playback) distribution sends to
  the origin as ``User-Agent: MediaStore-Secret-<secret>``.
* :class:`ContainerPolicyBuilder` — immutable builder for the usual statements
  (account full access, public read over HTTPS, CloudFront ingest/playback gated by a
  secret, CloudFront Origin Access Control).
* :class:`ContainerPolicy` / :class:`Statement` / :class:`Principal` /
  :class:`Condition` — a parsed policy document: ``from_json`` accepts any
  well-formed policy, ``to_json`` writes compact, stable, ASCII JSON.
* :meth:`ContainerPolicy.findings` — lint (:class:`Finding`): public write, write
  without ``aws:SecureTransport``, short or shared secrets, duplicate Sids, size and
  ASCII limits. Findings never contain a secret.

Offline evaluation of a policy against a request lives in :mod:`.policy_eval`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Literal, TypeVar

import attrs

from mediastore_ingest._internal.jsonutil import compact_json
from mediastore_ingest.errors import ContainerPolicyError, InvalidInputError
from mediastore_ingest.signing.policy import wildcard_match

__all__ = [
    "MAX_POLICY_LENGTH",
    "POLICY_VERSION",
    "USER_AGENT_PREFIX",
    "Condition",
    "ContainerPolicy",
    "ContainerPolicyBuilder",
    "Finding",
    "IngestSecret",
    "Principal",
    "Statement",
    "container_arn",
    "mediastore_object_arn",
]

#: What the ingest distribution puts in front of the secret in its ``User-Agent``
#: origin custom header (and what the container policy's ``aws:UserAgent`` expects).
USER_AGENT_PREFIX = "MediaStore-Secret-"

_ALPHABET = string.ascii_letters + string.digits
_MIN_LENGTH = 20
_DEFAULT_LENGTH = 40
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _shown(value: object, limit: int = 64) -> str:
    """How a refused value appears in a message.

    A number, or a short str that cannot be a ``User-Agent`` secret, is shown as it
    is; anything else is named by its type only: a tuple, a dict or a long str may
    hold a secret.
    """
    if isinstance(value, (int, float)):
        return repr(value)
    if (
        isinstance(value, str)
        and len(value) <= limit
        and USER_AGENT_PREFIX.lower() not in value.lower()
    ):
        return repr(value)
    if isinstance(value, str):
        return f"a str of {len(value)} characters (not shown)"
    return type(value).__name__


def _no_surrogate(text: str, what: str) -> str:
    """``text``, unless it holds a lone surrogate: that is not Unicode text and cannot
    be written as UTF-8, so it is a :class:`ContainerPolicyError` naming ``what``."""
    if _SURROGATE.search(text):
        raise ContainerPolicyError(
            f"{what} holds a lone surrogate (\\ud800-\\udfff), which is not Unicode text"
        )
    return text


def _check_secret(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"an ingest secret must be a str, not {type(value).__name__}")
    if len(value) < _MIN_LENGTH:
        raise InvalidInputError(
            f"an ingest secret must be at least {_MIN_LENGTH} characters long "
            f"(got {len(value)})"
        )
    if not (value.isascii() and value.isalnum()):
        raise InvalidInputError(
            "an ingest secret may contain only ASCII letters and digits "
            "(it travels in a User-Agent header and a policy condition)"
        )


@attrs.frozen
class IngestSecret:
    """The shared secret the distribution sends to the origin as ``User-Agent``.

    The value is never shown by ``repr``/``str``; read :attr:`value` or
    :attr:`user_agent` deliberately when you need it.
    """

    value: str = attrs.field(validator=_check_secret, repr=False)

    @classmethod
    def generate(
        cls,
        length: int = _DEFAULT_LENGTH,
        *,
        rng: Callable[[str], str] | None = None,
    ) -> IngestSecret:
        """Make a new random secret of ``length`` letters and digits.

        ``rng`` picks one character from a string (default :func:`secrets.choice`);
        pass a seeded chooser only in tests.
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < _MIN_LENGTH:
            raise InvalidInputError(
                f"length must be an int >= {_MIN_LENGTH}, got {_shown(length)}"
            )
        if rng is not None and not callable(rng):
            raise InvalidInputError(
                f"rng must be a callable picking one character, got {type(rng).__name__}"
            )
        choose = secrets.choice if rng is None else rng
        chars: list[str] = []
        for _ in range(length):
            char: object = choose(_ALPHABET)
            if not isinstance(char, str):
                raise InvalidInputError(f"rng must return a str, got {type(char).__name__}")
            chars.append(char)
        return cls("".join(chars))

    @property
    def user_agent(self) -> str:
        """The exact ``User-Agent`` value: ``MediaStore-Secret-<value>``."""
        return USER_AGENT_PREFIX + self.value

    def __str__(self) -> str:
        return "IngestSecret(<hidden>)"


# --- names, ARNs and wildcards ---------------------------------------------------------

#: The policy language version the builder writes.
POLICY_VERSION = "2012-10-17"
#: MediaStore refuses container policies longer than this (characters, compact JSON).
MAX_POLICY_LENGTH = 8192

_VERSIONS = ("2012-10-17", "2008-10-17")
_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}", re.ASCII)
_ACCOUNT_RE = re.compile(r"\d{12}", re.ASCII)
_CONTAINER_RE = re.compile(r"[\w-]{1,255}", re.ASCII)
_ACTION_RE = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+|\*", re.ASCII)
_DISTRIBUTION_ARN_RE = re.compile(
    r"arn:aws[a-z-]*:cloudfront::\d{12}:distribution/[A-Z0-9]+", re.ASCII
)
_OPERATOR_RE = re.compile(r"(?:ForAnyValue:|ForAllValues:)?[A-Za-z]+", re.ASCII)

_MEDIASTORE_WRITE_ACTIONS = ("mediastore:PutObject", "mediastore:DeleteObject")
_WRITE_ACTIONS = (*_MEDIASTORE_WRITE_ACTIONS, "s3:PutObject", "s3:DeleteObject")
_READ_ACTIONS = ("mediastore:GetObject", "mediastore:DescribeObject", "s3:GetObject")
_DEFAULT_READ_ACTIONS = ("mediastore:GetObject", "mediastore:DescribeObject")


def _check_region(region: object) -> str:
    if not isinstance(region, str) or not _REGION_RE.fullmatch(region):
        raise InvalidInputError(f"region must look like 'us-west-2', got {_shown(region)}")
    return region


def _check_account(account_id: object) -> str:
    if not isinstance(account_id, str) or not _ACCOUNT_RE.fullmatch(account_id):
        raise InvalidInputError(f"account_id must be 12 digits, got {_shown(account_id)}")
    return account_id


def _check_container(container: object) -> str:
    if not isinstance(container, str) or not _CONTAINER_RE.fullmatch(container):
        raise InvalidInputError(
            "container must be 1-255 letters, digits, '_' or '-' "
            f"(a MediaStore container name), got {_shown(container, 255)}"
        )
    return container


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def container_arn(region: str, account_id: str, container: str) -> str:
    """``arn:aws:mediastore:<region>:<account>:container/<container>``."""
    region = _check_region(region)
    return (
        f"arn:{_partition(region)}:mediastore:{region}:{_check_account(account_id)}"
        f":container/{_check_container(container)}"
    )


def mediastore_object_arn(region: str, account_id: str, container: str, path: str) -> str:
    """The ARN a container policy ``Resource`` is matched against for object ``path``.

    ``path`` is the object path inside the container (``"live/seg1.ts"``); ``"*"``
    gives the pattern for every object, and a folder path (``""`` for the root) is
    what a ``ListItems`` request on that folder is checked against.
    """
    if not isinstance(path, str):
        raise InvalidInputError(f"path must be a str, got {type(path).__name__}")
    return f"{container_arn(region, account_id, container)}/{path.lstrip('/')}"


# --- the policy document ---------------------------------------------------------------


def _strings(value: object, what: str) -> tuple[str, ...]:
    """A str or an iterable of non-empty str, as a tuple; the values are never shown
    in a message (condition values hold secrets)."""
    if isinstance(value, str):
        items: tuple[object, ...] = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        items = tuple(value)
    else:
        raise ContainerPolicyError(
            f"{what} must be a str or an iterable of str, got {type(value).__name__}"
        )
    for item in items:
        if not isinstance(item, str) or not item:
            kind = "an empty str" if isinstance(item, str) else type(item).__name__
            raise ContainerPolicyError(f"{what} must be non-empty strings, got {kind}")
        _no_surrogate(item, what)
    return items  # type: ignore[return-value]  # all checked to be str


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
    :meth:`ContainerPolicy.to_json` writes them in full.
    """

    operator: str
    key: str
    values: tuple[str, ...] = attrs.field(converter=_condition_values)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.operator, str) or not _OPERATOR_RE.fullmatch(self.operator):
            raise ContainerPolicyError(
                f"not a condition operator name: {_shown(self.operator)}"
            )
        if not isinstance(self.key, str) or not self.key:
            raise ContainerPolicyError(
                f"a condition key must be a non-empty str, got {_shown(self.key)}"
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
            tuple(_mask(v) for v in self.values)
            if self.key.lower() == "aws:useragent"
            else self.values
        )
        return f"Condition(operator={self.operator!r}, key={self.key!r}, values={values!r})"


def _canonical_conditions(conditions: Iterable[Condition]) -> tuple[Condition, ...]:
    """Group by operator (first appearance order), as the JSON form will."""
    if not isinstance(conditions, Iterable) or isinstance(conditions, (str, bytes, Mapping)):
        raise ContainerPolicyError(
            f"conditions must be an iterable of Condition objects, "
            f"got {type(conditions).__name__}"
        )
    by_operator: dict[str, list[Condition]] = {}
    seen: set[tuple[str, str]] = set()
    for cond in conditions:
        if not isinstance(cond, Condition):
            # Never the value: a tuple such as ("StringEquals", "aws:UserAgent", ...)
            # holds the secret.
            raise ContainerPolicyError(
                f"conditions must be Condition objects, got {type(cond).__name__}"
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
        raise ContainerPolicyError(f'effect must be "Allow" or "Deny", got {_shown(value, 16)}')


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
                f"Sid must be a non-empty str or None, got {_shown(self.sid)}"
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
                raise ContainerPolicyError(f"expected a Principal, got {type(p).__name__}")

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
                f'{where}.Effect: expected "Allow" or "Deny", got {_shown(effect, 16)}'
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
    return type(value).__name__


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise ContainerPolicyError(f"duplicate key {key!r} in the policy JSON")
        out[key] = value
    return out


def _reject_constant(name: str) -> object:
    raise ContainerPolicyError(f"{name} is not valid in a policy")


Severity = Literal["error", "warning"]


def _statement_tuple(statements: Iterable[Statement]) -> tuple[Statement, ...]:
    if not isinstance(statements, Iterable) or isinstance(statements, (str, bytes, Mapping)):
        raise ContainerPolicyError(
            f"statements must be an iterable of Statement objects, "
            f"got {type(statements).__name__}"
        )
    return tuple(statements)


@attrs.frozen(kw_only=True)
class Finding:
    """A lint result from :meth:`ContainerPolicy.findings`.

    ``code`` is one of ``public-write``, ``insecure-write``, ``short-secret``,
    ``shared-secret``, ``unknown-secret``, ``duplicate-sid``, ``policy-too-large``,
    ``non-ascii``. ``sid``/``index`` name the statement (``None`` for the whole
    policy). ``message`` never contains a secret in full.
    """

    code: str
    severity: Severity
    sid: str | None
    message: str
    index: int | None = None


@attrs.frozen(kw_only=True)
class ContainerPolicy:
    """A container (or bucket) policy document.

    Build one with :class:`ContainerPolicyBuilder` or parse one with
    :meth:`from_json`; ``from_json(p.to_json()) == p``.
    """

    statements: tuple[Statement, ...] = attrs.field(converter=_statement_tuple)
    version: str = POLICY_VERSION
    policy_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.version not in _VERSIONS:
            raise ContainerPolicyError(
                f"Version must be one of {', '.join(_VERSIONS)}, got {_shown(self.version, 16)}"
            )
        if not self.statements:
            raise ContainerPolicyError("a policy needs at least one statement")
        for st in self.statements:
            if not isinstance(st, Statement):
                # Never the value: a dict statement holds the secret of its condition.
                raise ContainerPolicyError(
                    f"statements must be Statement objects, got {type(st).__name__}"
                )
        if self.policy_id is not None and (
            not isinstance(self.policy_id, str) or not self.policy_id
        ):
            raise ContainerPolicyError(
                f"Id must be a non-empty str or None, got {_shown(self.policy_id)}"
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

        Raises :class:`ContainerPolicyError` if the compact form is longer than
        :data:`MAX_POLICY_LENGTH` characters or holds a non-ASCII character, which
        MediaStore refuses. The size is always measured on the compact form.
        """
        _check_indent(indent)
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

        Raises :class:`ContainerPolicyError` naming the offending element, e.g.
        ``Statement[1].Condition.Bool: expected a non-empty object``.
        """
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ContainerPolicyError(f"policy is not UTF-8 text: {exc.reason}") from exc
        if not isinstance(text, str):
            raise ContainerPolicyError(f"expected JSON text, got {type(text).__name__}")
        return cls.from_dict(_load_json(text))

    @classmethod
    def from_dict(cls, document: object) -> ContainerPolicy:
        """Like :meth:`from_json`, for an already-decoded JSON object."""
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
                f"Version: expected one of {', '.join(_VERSIONS)}, got {_shown(version, 16)}"
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
        """Lint the policy; see :class:`Finding` for the codes.

        ``known_secrets``: the secrets your distributions really send; an
        ``aws:UserAgent`` condition matching none of them is reported.
        """
        return tuple(_lint(self, _known_secrets(known_secrets)))


def _load_json(text: str) -> object:
    """Decode policy JSON; every failure is a :class:`ContainerPolicyError`."""
    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except ContainerPolicyError:
        raise  # from the hooks: a duplicate key, NaN or Infinity
    except json.JSONDecodeError as exc:
        raise ContainerPolicyError(
            f"policy is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError as exc:
        raise ContainerPolicyError("policy JSON is nested too deeply") from exc
    except ValueError as exc:  # an integer beyond Python's digit limit
        raise ContainerPolicyError(f"policy JSON holds a value Python cannot read: {exc}") from exc


def _check_indent(indent: object) -> None:
    if indent is not None and not isinstance(indent, (int, str)):
        raise InvalidInputError(
            f"indent must be an int, a str or None, got {type(indent).__name__}"
        )


_T = TypeVar("_T")


def _instances(value: object, cls: type[_T], what: str, hint: str = "") -> tuple[_T, ...]:
    """``value``, an iterable (not a str, bytes or mapping) of ``cls``, as a tuple; or an
    :class:`InvalidInputError` naming ``what`` and the wrong type (never the value)."""
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        raise InvalidInputError(
            f"{what} must be an iterable of {cls.__name__} objects, got {type(value).__name__}"
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, cls):
            raise InvalidInputError(
                f"{what} must hold {cls.__name__} objects, got {type(item).__name__}{hint}"
            )
    return items


def _known_secrets(known: object) -> tuple[IngestSecret, ...] | None:
    """``known_secrets`` checked: ``None`` or an iterable of :class:`IngestSecret`."""
    if known is None:
        return None
    hint = " (wrap the value: IngestSecret(value))"
    return _instances(known, IngestSecret, "known_secrets", hint)


def _is_true_secure_transport(cond: Condition) -> bool:
    return (
        cond.operator == "Bool"
        and cond.key.lower() == "aws:securetransport"
        and bool(cond.values)
        and all(v.lower() == "true" for v in cond.values)
    )


_GATING = {
    "aws:useragent": ("StringEquals", "StringEqualsIgnoreCase", "StringLike"),
    "aws:sourcearn": ("StringEquals", "StringLike", "ArnEquals", "ArnLike"),
}
_SECRET_OPERATORS = ("StringEquals", "StringEqualsIgnoreCase", "StringLike")


def _is_gating(cond: Condition) -> bool:
    """A positive match that only the distribution can satisfy: an exact
    ``aws:UserAgent`` secret (a value with ``*`` or ``?`` never counts: ``"*a*"``
    matches almost any client), or an ``AWS:SourceArn`` with literal text in each value.
    """
    key = cond.key.lower()
    if cond.operator not in _GATING.get(key, ()) or not cond.values:
        return False
    if key == "aws:useragent":
        return not any("*" in v or "?" in v for v in cond.values)
    return all(v.strip("*?") for v in cond.values)


def _user_agents(st: Statement) -> tuple[str, ...]:
    return tuple(
        v
        for c in st.conditions
        if c.key.lower() == "aws:useragent" and c.operator in _SECRET_OPERATORS
        for v in c.values
    )


def _mask(user_agent: str) -> str:
    """Enough of a User-Agent secret to recognise it, never the whole of it."""
    prefix = USER_AGENT_PREFIX if user_agent.startswith(USER_AGENT_PREFIX) else ""
    secret = user_agent[len(prefix):]
    shown = secret[:3] if len(secret) >= 12 else ""
    return f"{prefix}{shown}…"


_Problem = tuple[str, Severity, str]  # code, severity, message


def _lint(policy: ContainerPolicy, known: tuple[IngestSecret, ...] | None) -> list[Finding]:
    known_agents = None if known is None else {s.user_agent for s in known}
    seen_sids: set[str] = set()
    writers: dict[str, int] = {}  # user agent -> first statement granting write with it
    readers: dict[str, int] = {}
    out = [
        Finding(code=code, severity=severity, sid=st.sid, message=message, index=i)
        for i, st in enumerate(policy.statements)
        for code, severity, message in _statement_problems(
            i, st, seen_sids, writers, readers, known_agents
        )
    ]
    full = compact_json(policy.to_dict())
    if len(full) > MAX_POLICY_LENGTH:
        out.append(Finding(
            code="policy-too-large", severity="error", sid=None,
            message=f"the policy is {len(full)} characters long; MediaStore accepts at most "
            f"{MAX_POLICY_LENGTH}"))
    if policy.policy_id is not None and not policy.policy_id.isascii():
        out.append(Finding(code="non-ascii", severity="error", sid=None,
                           message="the policy Id holds a non-ASCII character"))
    return out


def _statement_problems(
    i: int,
    st: Statement,
    seen_sids: set[str],
    writers: dict[str, int],
    readers: dict[str, int],
    known_agents: set[str] | None,
) -> Iterator[_Problem]:
    """Findings for statement ``i``; updates the cross-statement state it is given."""
    name = f"Statement[{i}]" + (f" ({st.sid})" if st.sid else "")
    if st.sid is not None:
        if st.sid in seen_sids:
            yield "duplicate-sid", "error", f"{name}: Sid {st.sid!r} is used more than once"
        seen_sids.add(st.sid)
    if not compact_json(st.to_json_value()).isascii():
        yield ("non-ascii", "error",
               f"{name} holds a non-ASCII character; MediaStore accepts ASCII policies only")

    allow = st.effect == "Allow"
    writes = allow and any(st.grants(a) for a in _WRITE_ACTIONS)
    reads = allow and any(st.grants(a) for a in _READ_ACTIONS)
    public = st.not_principal is not None or (
        st.principal is not None and st.principal.is_public
    )
    if writes and public and not any(_is_gating(c) for c in st.conditions):
        yield ("public-write", "error",
               f"{name} lets anyone write (PutObject/DeleteObject) without an "
               "exact aws:UserAgent secret (no wildcard) or AWS:SourceArn condition")
    if (allow and st.grants("mediastore:PutObject")
            and not any(_is_true_secure_transport(c) for c in st.conditions)):
        yield ("insecure-write", "error",
               f"{name} grants PutObject without Bool aws:SecureTransport \"true\" "
               "(MediaStore requires it)")

    for agent in dict.fromkeys(_user_agents(st)):
        if "*" in agent or "?" in agent:
            continue
        secret = agent.removeprefix(USER_AGENT_PREFIX)
        if len(secret) < _MIN_LENGTH:
            yield ("short-secret", "error",
                   f"{name}: the aws:UserAgent secret {_mask(agent)} is {len(secret)} "
                   f"characters long; use at least {_MIN_LENGTH} (IngestSecret.generate())")
        if known_agents is not None and agent not in known_agents:
            yield ("unknown-secret", "warning",
                   f"{name}: the aws:UserAgent value {_mask(agent)} is not the User-Agent "
                   "of any known secret, so no distribution will match it")
        if writes:
            writers.setdefault(agent, i)
        if reads:
            readers.setdefault(agent, i)
        other = readers.get(agent) if writes else writers.get(agent) if reads else None
        if other is not None and other != i:
            yield ("shared-secret", "warning",
                   f"{name} and Statement[{other}] use the same aws:UserAgent secret "
                   f"{_mask(agent)} for writing and reading; give the playback "
                   "distribution its own secret")


# --- the builder -----------------------------------------------------------------------


def _secure_transport() -> Condition:
    return Condition("Bool", "aws:SecureTransport", ("true",))


def _items(value: object, what: str) -> tuple[object, ...]:
    """A str as one item, any other iterable (not bytes or a mapping) as a tuple."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        return tuple(value)
    raise InvalidInputError(
        f"{what} must be a str or an iterable of str, got {type(value).__name__}"
    )


def _check_actions(actions: str | Iterable[str]) -> tuple[str, ...]:
    items = _items(actions, "actions")
    if not items:
        raise InvalidInputError("actions must name at least one action")
    out: list[str] = []
    for action in items:
        if not isinstance(action, str) or not _ACTION_RE.fullmatch(action):
            raise InvalidInputError(
                f"not an IAM action like 'mediastore:PutObject': {_shown(action)}"
            )
        out.append(action)
    return tuple(out)


def _check_networks(source_ips: str | Iterable[str]) -> tuple[str, ...]:
    items = _items(source_ips, "source_ips")
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(item, strict=True)))  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"not an IP address or CIDR block (host bits must be zero): {_shown(item)}"
            ) from exc
    if not out:
        raise InvalidInputError("source_ips is empty; pass None for no address condition")
    return tuple(out)


def _check_secret_arg(secret: object) -> IngestSecret:
    if not isinstance(secret, IngestSecret):
        raise InvalidInputError(
            f"expected an IngestSecret, got {type(secret).__name__} "
            "(wrap the value: IngestSecret(value))"
        )
    return secret


def _builder_statements(statements: Iterable[Statement]) -> tuple[Statement, ...]:
    """A builder's statements: an iterable of :class:`Statement`, kept as a tuple."""
    return _instances(statements, Statement, "statements")


# Findings the builder refuses to produce; policy-too-large is left to build().
_BUILDER_REFUSES = ("public-write", "insecure-write", "short-secret", "shared-secret",
                    "duplicate-sid", "non-ascii")


@attrs.frozen(kw_only=True)
class ContainerPolicyBuilder:
    """Immutable builder for a MediaStore container policy.

    Every ``allow_*`` method returns a new builder; :meth:`build` returns the
    :class:`ContainerPolicy`. The builder refuses a statement that its own lint
    (:meth:`ContainerPolicy.findings`) would flag, e.g. a duplicate Sid or a
    playback statement reusing the ingest secret.
    """

    region: str = attrs.field(converter=_check_region)
    account_id: str = attrs.field(converter=_check_account)
    container: str = attrs.field(converter=_check_container)
    statements: tuple[Statement, ...] = attrs.field(default=(), converter=_builder_statements)

    @property
    def resource(self) -> str:
        """``arn:aws:mediastore:<region>:<account>:container/<name>/*``."""
        return mediastore_object_arn(self.region, self.account_id, self.container, "*")

    def add_statement(self, statement: Statement) -> ContainerPolicyBuilder:
        """A new builder with ``statement`` appended (after the builder's checks)."""
        if not isinstance(statement, Statement):
            raise InvalidInputError(f"expected a Statement, got {type(statement).__name__}")
        statements = (*self.statements, statement)
        for finding in ContainerPolicy(statements=statements).findings():
            if finding.code in _BUILDER_REFUSES:
                raise ContainerPolicyError(f"refusing to add the statement: {finding.message}")
        return attrs.evolve(self, statements=statements)

    def allow_account_full_access(
        self, *, sid: str = "MediaStoreFullAccess"
    ) -> ContainerPolicyBuilder:
        """MediaStore's default statement: the account may do anything, over HTTPS."""
        return self.add_statement(Statement(
            sid=sid, effect="Allow",
            principal=Principal(aws=f"arn:{_partition(self.region)}:iam::{self.account_id}:root"),
            actions=("mediastore:*",), resources=(self.resource,),
            conditions=(_secure_transport(),),
        ))

    def allow_public_read_over_https(
        self, *, sid: str = "PublicReadOverHttps"
    ) -> ContainerPolicyBuilder:
        """Anyone may GetObject/DescribeObject, over HTTPS only."""
        return self.add_statement(Statement(
            sid=sid, effect="Allow", principal=Principal.anyone(),
            actions=_DEFAULT_READ_ACTIONS, resources=(self.resource,),
            conditions=(_secure_transport(),),
        ))

    def allow_cloudfront_ingest(
        self,
        secret: IngestSecret,
        *,
        source_ips: str | Iterable[str] | None = None,
        actions: str | Sequence[str] = ("mediastore:PutObject",),
        sid: str = "CloudFrontIngest",
    ) -> ContainerPolicyBuilder:
        """Writes only from the ingest distribution: ``aws:UserAgent`` must equal
        ``secret.user_agent``, over HTTPS.

        Add ``"mediastore:DeleteObject"`` to ``actions`` if encoders delete old
        segments. ``source_ips`` adds ``IpAddress aws:SourceIp``; note that behind
        CloudFront the origin sees the *edge's* address, not the encoder's.
        """
        secret = _check_secret_arg(secret)
        conditions = [
            Condition("StringEquals", "aws:UserAgent", (secret.user_agent,)),
            _secure_transport(),
        ]
        if source_ips is not None:
            conditions.append(Condition("IpAddress", "aws:SourceIp", _check_networks(source_ips)))
        return self.add_statement(Statement(
            sid=sid, effect="Allow", principal=Principal.anyone(),
            actions=_check_actions(actions), resources=(self.resource,), conditions=conditions,
        ))

    def allow_cloudfront_read(
        self,
        secret: IngestSecret,
        *,
        actions: str | Sequence[str] = _DEFAULT_READ_ACTIONS,
        sid: str = "CloudFrontPlayback",
    ) -> ContainerPolicyBuilder:
        """Reads only from the playback distribution, gated by its own secret."""
        secret = _check_secret_arg(secret)
        return self.add_statement(Statement(
            sid=sid, effect="Allow", principal=Principal.anyone(),
            actions=_check_actions(actions), resources=(self.resource,),
            conditions=(
                Condition("StringEquals", "aws:UserAgent", (secret.user_agent,)),
                _secure_transport(),
            ),
        ))

    def allow_cloudfront_oac(
        self,
        distribution_arn: str,
        *,
        actions: str | Sequence[str] = _DEFAULT_READ_ACTIONS,
        sid: str = "CloudFrontOriginAccessControl",
    ) -> ContainerPolicyBuilder:
        """Origin Access Control: the CloudFront service principal, only on behalf
        of ``distribution_arn`` (``arn:aws:cloudfront::<account>:distribution/<id>``).

        Read-only by default; pass ``actions=("mediastore:PutObject", ...)`` for ingest.
        """
        if not isinstance(distribution_arn, str) or not _DISTRIBUTION_ARN_RE.fullmatch(
            distribution_arn
        ):
            raise InvalidInputError(
                "distribution_arn must look like 'arn:aws:cloudfront::111122223333:"
                f"distribution/E2EXAMPLE', got {_shown(distribution_arn, 256)}"
            )
        return self.add_statement(Statement(
            sid=sid, effect="Allow", principal=Principal(service="cloudfront.amazonaws.com"),
            actions=_check_actions(actions), resources=(self.resource,),
            conditions=(
                Condition("StringEquals", "AWS:SourceArn", (distribution_arn,)),
                _secure_transport(),
            ),
        ))

    def build(self) -> ContainerPolicy:
        """The policy; raises :class:`ContainerPolicyError` if it is empty or too large."""
        if not self.statements:
            raise ContainerPolicyError("the builder holds no statement; add one with allow_*()")
        policy = ContainerPolicy(statements=self.statements)
        policy.to_json()  # enforces MediaStore's size and ASCII limits
        return policy
