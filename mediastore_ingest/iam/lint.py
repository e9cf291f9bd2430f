"""The lint of a container (or bucket) policy: what ``ContainerPolicy.findings`` reports.

Each rule gives a ``Finding``: public write, write without
``aws:SecureTransport``, short, shared or unknown ``aws:UserAgent`` secrets, duplicate
Sids, MediaStore's size and ASCII limits. A finding never contains a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

import attrs

from mediastore_ingest._internal.jsonutil import compact_json
from mediastore_ingest._internal.validate import check_instances
from mediastore_ingest.iam.document import (
    MAX_POLICY_LENGTH,
    Condition,
    ContainerPolicy,
    Statement,
)
from mediastore_ingest.iam.secret import (
    MIN_SECRET_LENGTH,
    USER_AGENT_PREFIX,
    IngestSecret,
    masked,
)

__all__ = ["Finding", "Severity", "policy_findings"]

Severity = Literal["error", "warning"]

_MEDIASTORE_WRITE_ACTIONS = ("mediastore:PutObject", "mediastore:DeleteObject")
_WRITE_ACTIONS = (*_MEDIASTORE_WRITE_ACTIONS, "s3:PutObject", "s3:DeleteObject")
_READ_ACTIONS = ("mediastore:GetObject", "mediastore:DescribeObject", "s3:GetObject")


@attrs.frozen(kw_only=True)
class Finding:
    """A lint result from ``ContainerPolicy.findings``.

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


def _known_secrets(known: object) -> tuple[IngestSecret, ...] | None:
    """``known_secrets`` checked: ``None`` or an iterable of ``IngestSecret``."""
    if known is None:
        return None
    hint = " (wrap the value: IngestSecret(value))"
    return check_instances("known_secrets", known, IngestSecret, hint=hint)


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


_Problem = tuple[str, Severity, str]  # code, severity, message


class WriteAndReadUses:
    """Which statement first grants writes, and which first grants reads, with each
    key: a ``User-Agent`` secret, or a distribution ARN. One key for both means the
    playback distribution could write."""

    def __init__(self) -> None:
        self._writers: dict[str, int] = {}
        self._readers: dict[str, int] = {}

    def other_use(self, key: str, index: int, *, writes: bool, reads: bool) -> int | None:
        """Record that statement ``index`` writes and/or reads with ``key``; return the
        first other statement that uses ``key`` the other way, or ``None``."""
        if writes:
            self._writers.setdefault(key, index)
        if reads:
            self._readers.setdefault(key, index)
        other = self._readers.get(key) if writes else self._writers.get(key) if reads else None
        return None if other == index else other


def policy_findings(
    policy: ContainerPolicy, known_secrets: Iterable[IngestSecret] | None = None
) -> tuple[Finding, ...]:
    """Lint ``policy``: what ``ContainerPolicy.findings`` returns."""
    known = _known_secrets(known_secrets)
    known_agents = None if known is None else {s.user_agent for s in known}
    seen_sids: set[str] = set()
    uses = WriteAndReadUses()  # of each User-Agent secret
    out = [
        Finding(code=code, severity=severity, sid=st.sid, message=message, index=i)
        for i, st in enumerate(policy.statements)
        for code, severity, message in _statement_problems(
            i, st, seen_sids, uses, known_agents
        )
    ]
    size = len(compact_json(policy.to_dict()))
    too_large = (
        f"the policy is {size} characters long; MediaStore accepts at most "
        f"{MAX_POLICY_LENGTH}"
        if size > MAX_POLICY_LENGTH
        else None
    )
    return (*out, *whole_policy_findings(policy, too_large))


def whole_policy_findings(policy: ContainerPolicy, too_large: str | None) -> list[Finding]:
    """The findings about ``policy`` as a whole: ``policy-too-large`` saying
    ``too_large`` when the origin's size rule (its own) found it too large, and
    ``non-ascii`` for an Id that is not ASCII."""
    out = []
    if too_large is not None:
        out.append(Finding(code="policy-too-large", severity="error", sid=None,
                           message=too_large))
    if policy.policy_id is not None and not policy.policy_id.isascii():
        out.append(Finding(code="non-ascii", severity="error", sid=None,
                           message="the policy Id holds a non-ASCII character"))
    return out


def _statement_problems(
    i: int,
    st: Statement,
    seen_sids: set[str],
    uses: WriteAndReadUses,
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
        if len(secret) < MIN_SECRET_LENGTH:
            yield ("short-secret", "error",
                   f"{name}: the aws:UserAgent secret {masked(agent)} is {len(secret)} "
                   f"characters long; use at least {MIN_SECRET_LENGTH} (IngestSecret.generate())")
        if known_agents is not None and agent not in known_agents:
            yield ("unknown-secret", "warning",
                   f"{name}: the aws:UserAgent value {masked(agent)} is not the User-Agent "
                   "of any known secret, so no distribution will match it")
        other = uses.other_use(agent, i, writes=writes, reads=reads)
        if other is not None:
            yield ("shared-secret", "warning",
                   f"{name} and Statement[{other}] use the same aws:UserAgent secret "
                   f"{masked(agent)} for writing and reading; give the playback "
                   "distribution its own secret")
