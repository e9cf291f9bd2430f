"""moto's KMS on loopback (server mode, real HTTP on 127.0.0.1), for the tests of
signing keys held in KMS.

moto implements ``Sign`` for ``RSA_2048`` with ``RSASSA_PKCS1_V1_5_SHA_256`` and for
``ECC_NIST_P256`` with ``ECDSA_SHA_256``, as ``MessageType=RAW`` only (it ignores
``MessageType`` and hashes whatever it is given), and ``GetPublicKey``. It does not
refuse ``Sign`` with a disabled key or one pending deletion, nor throttle, nor answer
``AccessDeniedException`` to ``Sign``: the tests of those errors use botocore's
``Stubber`` and say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session
import pytest

from tests._support.moto_server import moto_server

REGION = "us-east-1"
#: Fake credentials, set in the environment for the tests' duration; the metadata
#: service and any user configuration are kept out of reach.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
_CLEARED = (
    "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
)


def fake_aws_env(mp: pytest.MonkeyPatch, tmp: str) -> None:
    """Fake credentials and no user AWS configuration in the environment."""
    for name, value in FAKE_AWS_ENV.items():
        mp.setenv(name, value)
    for name in _CLEARED:
        mp.delenv(name, raising=False)
    mp.setenv("AWS_CONFIG_FILE", f"{tmp}/no-aws-config")
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp}/no-aws-credentials")


@contextmanager
def kms_server(tmp: str) -> Iterator[str]:
    """A moto server on 127.0.0.1 (free port), with fake credentials in the
    environment; yields its base URL."""
    with pytest.MonkeyPatch.context() as mp:
        fake_aws_env(mp, tmp)
        with moto_server() as url:
            assert url.startswith("http://127.0.0.1:")
            yield url


def kms_client(url: str) -> Any:
    """A botocore KMS client for the moto server at ``url``."""
    return botocore.session.get_session().create_client(
        "kms", region_name=REGION, endpoint_url=url
    )


def create_key(client: Any, spec: str = "ECC_NIST_P256", usage: str = "SIGN_VERIFY") -> str:
    """A new KMS key; its ARN."""
    arn: str = client.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["Arn"]
    return arn


class SignCounter:
    """Counts the ``Sign`` calls a botocore KMS client makes."""

    def __init__(self, client: Any) -> None:
        self.calls = 0
        client.meta.events.register("before-call.kms.Sign", self._count)
        client.meta.events.register("before-call.kms.GetPublicKey", self._count_public)
        self.public_key_calls = 0

    def _count(self, **kwargs: object) -> None:
        self.calls += 1

    def _count_public(self, **kwargs: object) -> None:
        self.public_key_calls += 1
