"""Container policies shared by tests that need a LocalContainer anyone may write to."""

from __future__ import annotations

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
