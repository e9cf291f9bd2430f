"""A moto server on loopback for the provisioning tests (real HTTP, 127.0.0.1 only).

moto keeps its backends in process-global state, so :func:`reset` wipes them between
tests. Two deliberate adjustments make moto's MediaStore look like AWS's:

* moto reports a container ``Endpoint`` of ``/<name>`` and an ARN without region or
  account; AWS answers ``https://<id>.data.mediastore.<region>.amazonaws.com`` and
  ``arn:aws:mediastore:<region>:<account>:container/<name>``. The provisioner
  derives the distributions' origin domain and the account id from these, so the
  patch gives moto's containers the AWS shapes.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto.mediastore.models import MediaStoreBackend
from moto.server import ThreadedMotoServer

MOTO_ACCOUNT_ID = "123456789012"


def _realistic_create_container(original: Any) -> Any:
    def create_container(self: Any, name: str, tags: Any) -> Any:
        container = original(self, name, tags)
        ident = hashlib.sha256(name.encode()).hexdigest()[:14]
        container.endpoint = f"https://{ident}.data.mediastore.{self.region_name}.amazonaws.com"
        container.arn = f"arn:aws:mediastore:{self.region_name}:{self.account_id}:container/{name}"
        return container

    return create_container


@contextmanager
def moto_server() -> Iterator[str]:
    """Run a moto server on 127.0.0.1 (free port); yields its base URL."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            MediaStoreBackend,
            "create_container",
            _realistic_create_container(MediaStoreBackend.create_container),
        )
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            assert host == "127.0.0.1"
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def reset(base_url: str) -> None:
    """Forget every resource the moto server holds."""
    assert base_url.startswith("http://127.0.0.1:")
    url = f"{base_url}/moto-api/reset"
    request = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200
