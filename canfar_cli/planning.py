"""Planning a create: the requests it would send, built from one checked `CreateSpec`.

`plan_requests` is the whole of what a checked create sends (form, headers, the registry
credentials kept out of sight); `takes_create_arguments` gives the create methods the arguments
of `CreateRequest` (one definition, however many methods take them).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlencode

from canfar_cli.errors import UsageError
from canfar_cli.http import HIDDEN
from canfar_cli.models import CreateRequest, CreateSpec

REGISTRY_AUTH_HEADER = "X-Skaha-Registry-Auth"
FORM_TYPE = "application/x-www-form-urlencoded"

P = ParamSpec("P")
S = TypeVar("S")
R = TypeVar("R")


@dataclass(frozen=True)
class PlannedRequest:
    """One request exactly as `create_each` sends it; `headers` show credentials as "<hidden>"."""

    method: str
    url: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    # The path relative to the API base.
    path: str = field(default="session", repr=False)
    # A headless create: the argv and the environment (from the form) the job will see, after
    # Kubernetes has expanded what canfar encoded (canfar_cli.cmdline). Empty otherwise.
    argv: list[str] = field(default_factory=list)
    job_env: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def with_secrets(cls, secret_headers: dict[str, str], **fields: Any) -> PlannedRequest:
        """A plan that also carries the real values of its hidden headers, kept out of the
        fields so that repr(), == and dataclasses.asdict() never see them."""
        plan = cls(**fields)
        object.__setattr__(plan, "_secret_headers", dict(secret_headers))
        return plan

    @property
    def secret_headers(self) -> dict[str, str]:
        return dict(getattr(self, "_secret_headers", {}))

    @property
    def name(self) -> str:
        return dict(self.form).get("name", "")

    @property
    def body(self) -> bytes:
        return urlencode(self.form).encode("ascii")


def plan_requests(spec: CreateSpec, url: str, headers: Mapping[str, str]) -> list[PlannedRequest]:
    """The POSTs of a checked create, one per replica; `headers` are the client's own (shown
    as they are), the registry credentials are added hidden. Nothing is checked again."""
    if not spec.names:
        raise UsageError("a session name is required", hint="give a name such as 'fit-1'")
    secret: dict[str, str] = {}
    if spec.registry_header is not None:
        secret[REGISTRY_AUTH_HEADER] = spec.registry_header
    shown = {**headers, "Content-Type": FORM_TYPE, **{key: HIDDEN for key in secret}}
    return [
        PlannedRequest.with_secrets(
            secret,
            method="POST",
            url=url,
            headers=dict(shown),
            form=spec.form(index),
            argv=spec.argv if spec.kind == "headless" else [],
            job_env=spec.job_env(index) if spec.kind == "headless" else [],
        )
        for index in range(len(spec.names))
    ]


def _create_request(args: tuple[Any, ...], options: dict[str, Any]) -> CreateRequest:
    try:
        return CreateRequest(*args, **options)
    except TypeError as exc:  # a missing, unknown or doubled argument: say it as the API
        raise TypeError(str(exc).replace("CreateRequest.__init__()", "create")) from None


def _with_arguments_of(
    factory: Callable[P, CreateRequest],
) -> Callable[[Callable[[S, CreateRequest], R]], Callable[Concatenate[S, P], R]]:
    def decorate(method: Callable[[S, CreateRequest], R]) -> Callable[Concatenate[S, P], R]:
        wrapper: Any
        if inspect.iscoroutinefunction(method):

            async def wrapper(self: S, /, *args: Any, **options: Any) -> Any:
                return await method(self, _create_request(args, options))

        else:

            def wrapper(self: S, /, *args: Any, **options: Any) -> Any:
                return method(self, _create_request(args, options))

        functools.update_wrapper(wrapper, method)
        # What help() and inspect show: self, then the fields of CreateRequest.
        fields = list(inspect.signature(factory).parameters.values())
        own = inspect.signature(method)
        first = next(iter(own.parameters.values()))
        wrapper.__signature__ = own.replace(parameters=[first, *fields])
        return wrapper  # type: ignore[no-any-return]

    return decorate


takes_create_arguments = _with_arguments_of(CreateRequest)
"""Decorates a method `(self, request: CreateRequest)` so it takes CreateRequest's arguments
(positional or by keyword, as `CreateRequest(...)` does) in place of the object."""
