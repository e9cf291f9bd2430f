"""A moto S3 server in its own process, with SigV4 authentication switched on.

moto keeps its "check signatures" switch in process-global state, so the server runs
in a subprocess: turning authentication on there cannot affect the moto servers other
tests start in this process. Loopback only.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import botocore.session
import urllib3

REGION = "us-west-2"
BUCKET = "live-origin"


@dataclass(frozen=True)
class S3Origin:
    endpoint: str
    bucket: str
    access_key_id: str  # stands for the CloudFront service principal (OAC)
    secret_access_key: str

    def client(self, secret: str | None = None):
        return botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=secret or self.secret_access_key,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_s3_server() -> Iterator[S3Origin]:
    """Start it (free port on 127.0.0.1), make the bucket and the OAC principal; stop it."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    http = urllib3.PoolManager()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http.request("GET", endpoint + "/moto-api/", retries=False, timeout=1)
                break
            except urllib3.exceptions.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        admin = {"endpoint_url": endpoint, "region_name": REGION,
                 "aws_access_key_id": "AKIDADMIN", "aws_secret_access_key": "admin"}
        session = botocore.session.get_session()
        session.create_client("s3", **admin).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        iam = session.create_client("iam", **admin)
        iam.create_user(UserName="cloudfront-oac")
        key = iam.create_access_key(UserName="cloudfront-oac")["AccessKey"]
        iam.put_user_policy(
            UserName="cloudfront-oac", PolicyName="origin",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject",
                 "s3:DeleteObject", "s3:ListBucket"], "Resource": "*"}]}),
        )
        # From now on every request must carry a valid SigV4 signature.
        http.request("POST", endpoint + "/moto-api/reset-auth", body=b"0")
        yield S3Origin(endpoint, BUCKET, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
