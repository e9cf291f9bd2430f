"""Container policies shared by tests: one anyone may write to over HTTPS, and a
statement to build policies from."""

from __future__ import annotations

from typing import Any

from mediastore_ingest.iam.document import Principal, Statement

REGION = "us-west-2"
ACCOUNT = "111122223333"

#: PutObject and GetObject on live/* for anyone, over HTTPS only.
OPEN_WRITE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OpenOverHttps",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["mediastore:PutObject", "mediastore:GetObject"],
            "Resource": f"arn:aws:mediastore:{REGION}:{ACCOUNT}:container/live/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        }
    ],
}


def statement(**overrides: Any) -> Statement:
    """Allow anyone ``mediastore:PutObject`` on ``*``; ``overrides`` replace its fields."""
    fields: dict[str, Any] = {
        "effect": "Allow",
        "principal": Principal.anyone(),
        "actions": ("mediastore:PutObject",),
        "resources": ("*",),
    }
    fields.update(overrides)
    return Statement(**fields)
