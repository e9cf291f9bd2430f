"""The botocore boundary of provisioning: clients, calls, waiting, error translation.

Every botocore failure (``ClientError``, ``EndpointConnectionError``,
``NoCredentialsError``, ``ParamValidationError``, ...) leaves ``Aws.call`` as a
``ProvisioningError`` carrying ``operation`` and
``code``, with the secrets of the run hidden from its message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from mediastore_ingest._internal.show import type_name
from mediastore_ingest.errors import InvalidInputError, ProvisioningError

if TYPE_CHECKING:  # pragma: no cover
    import botocore.session

__all__ = ["Aws", "account_of", "partition_of"]


def _error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore error (its class name when it has none)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else "ClientError"
    return type(exc).__name__


def _redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every one of the secret values ``secrets`` shown as ``<hidden>``."""
    for value in secrets:
        if value:
            text = text.replace(value, "<hidden>")
    return text


def _mentions(exc: BaseException, secrets: Sequence[str]) -> bool:
    """Whether a botocore error shows one of ``secrets`` (message, args, response)."""
    texts = (
        str(exc),
        repr(exc.args),
        repr(getattr(exc, "response", None)),
        repr(getattr(exc, "kwargs", None)),
    )
    return any(value and value in text for value in secrets for text in texts)


def account_of(arn: str) -> str | None:
    """The 12-digit account id in ``arn``, or ``None``."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and re.fullmatch(r"\d{12}", parts[4]) else None


def partition_of(arn: str) -> str:
    """The partition of ``arn`` (``aws`` when it names none)."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def _check_endpoint(url: object, service: str | None) -> str:
    """A URL botocore will take: a str with a host name (botocore's own test)."""
    try:
        ok = isinstance(url, str) and urlsplit(url).hostname is not None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        ok = False
    if not ok:
        got = "a str without a host name" if isinstance(url, str) else type_name(url)
        raise InvalidInputError(
            f"endpoint_url{'' if service is None else f' for {service}'} must be a URL "
            "with a host name, such as "
            f"'https://127.0.0.1:5000', got {got}"
        )
    return cast(str, url)


def _endpoint_urls(value: object) -> tuple[str | None, dict[str, str]]:
    """``Provisioner(endpoint_url=...)`` checked: ``(URL for every service, URL by service)``.

    One URL serves every service; a mapping (or ``(service, URL)`` pairs) names each
    service's URL, and ``None`` there means that service's default endpoint.
    """
    if value is None:
        return None, {}
    if isinstance(value, str):
        return _check_endpoint(value, None), {}
    if isinstance(value, (Mapping, list, tuple)):
        try:
            given = dict(value)  # a mapping, or (service name, URL) pairs
        except (TypeError, ValueError):
            raise InvalidInputError("endpoint_url pairs must be (service name, URL)") from None
        return None, {
            str(name): _check_endpoint(url, str(name))
            for name, url in given.items()
            if url is not None
        }
    raise InvalidInputError(
        "endpoint_url must be a URL, a mapping of service name to URL, or None, "
        f"got {type_name(value)}"
    )


class Aws:
    """The botocore clients of one provisioner, and how it waits.

    Clients are created on first use (an S3 setup never creates a MediaStore client)
    from ``session``, in ``region``, with the endpoint the provisioner was given.
    """

    def __init__(
        self,
        session: botocore.session.Session | None,
        *,
        region: str,
        endpoint_url: object,
        client_config: Any,
        clients: Mapping[str, Any],
        sleep: Callable[[float], None],
        poll_interval: float,
        max_polls: int,
    ) -> None:
        self.region = region
        self._session = session
        self._url, self._urls = _endpoint_urls(endpoint_url)
        self._client_config = client_config
        # CloudFront is global; botocore routes any region to its global endpoint.
        self._clients = {name: client for name, client in clients.items() if client is not None}
        self._sleep = sleep
        self._poll_interval = poll_interval
        self._max_polls = max_polls
        self._secrets: tuple[str, ...] = ()

    def client(self, service: str) -> Any:
        """The botocore client of ``service`` (given, or created now)."""
        client = self._clients.get(service)
        if client is not None:
            return client
        if self._session is None:
            import botocore.session as _bs

            self._session = _bs.get_session()
        try:
            client = self._session.create_client(
                service,
                region_name=self.region,
                endpoint_url=self._urls.get(service, self._url),
                config=self._client_config,
            )
        except BotoCoreError as exc:
            raise ProvisioningError(
                f"cannot create the {service} client: {exc}",
                operation="CreateClient",
                code=type(exc).__name__,
            ) from exc
        except ValueError as exc:  # botocore's "Invalid endpoint: ..."
            raise InvalidInputError(f"cannot create the {service} client: {exc}") from exc
        self._clients[service] = client
        return client

    @contextmanager
    def hiding(self, secrets: Iterable[str]) -> Iterator[None]:
        """Hide ``secrets`` from the messages of the errors raised inside the block."""
        self._secrets = tuple(secrets)
        try:
            yield
        finally:
            self._secrets = ()

    def call(
        self,
        service: str,
        operation: str,
        *,
        absent: Sequence[str] = (),
        **params: object,
    ) -> dict[str, Any] | None:
        """Call ``operation``; ``None`` when the error code is one of ``absent``."""
        method = getattr(self.client(service), xform_name(operation))
        failure: tuple[Exception, str, str]
        try:
            result: dict[str, Any] = method(**params)
        except ClientError as exc:
            code = _error_code(exc)
            if code in absent:
                return None
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            failure = (exc, code, f"{service} {operation} failed: {code}: {message}")
        except BotoCoreError as exc:
            code = type(exc).__name__
            failure = (exc, code, f"{service} {operation} failed: {code}: {exc}")
        else:
            return result
        cause, code, text = failure
        error = ProvisioningError(_redact(text, self._secrets), operation=operation, code=code)
        if _mentions(cause, self._secrets):
            # Raised outside the handler and not chained: the botocore error shows a
            # secret (AWS echoes the User-Agent), and __cause__ or __context__ would
            # print it with the traceback. The message keeps the operation and code.
            raise error
        raise error from cause

    def poll(self, what: str, check: Callable[[], bool]) -> None:
        """Call ``check`` until it is true, sleeping between calls; give up after
        ``max_polls`` calls with a ``WaitTimeout`` error."""
        for attempt in range(self._max_polls):
            if check():
                return
            if attempt + 1 < self._max_polls:
                self._sleep(self._poll_interval)
        raise ProvisioningError(
            f"gave up waiting for {what} after {self._max_polls} polls",
            operation="Wait",
            code="WaitTimeout",
        )
