"""Each route's contract, declared next to the route: its query, body and response models.

``@contract(...)`` goes under ``@blueprint.route(...)``. The route then receives what it declared, already
validated: ``principal`` (the caller, authenticated before anything else is read), ``query`` (an instance
of the query model) and ``body`` (of the body model), besides its path parameters. What it returns is
validated by the response model and shaped by it (fields the model does not declare never leave). The same
declarations build the OpenAPI document (:mod:`chalicelib.openapi`), so the document cannot drift from
what the code accepts and answers.

Example:
    >>> from chalice.app import Blueprint
    >>> from chalicelib.http import PageQuery
    >>> class Names(BaseModel):
    ...     items: list[str]
    ...     next: str | None
    >>> blueprint = Blueprint(__name__)
    >>> @blueprint.route("/names", methods=["GET"])
    ... @contract(summary="Names", query=PageQuery, response=Names)
    ... def names(principal: Principal, query: PageQuery) -> dict[str, Any]:
    ...     return {"items": [], "next": None}
    >>> contract_of(names).response is Names
    True
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from chalice.app import Chalice, Request, Response
from pydantic import BaseModel, ValidationError

from chalicelib.auth import principal_of
from chalicelib.errors import ServiceError
from chalicelib.http import body_model, query_model
from twin_models.tenancy import Principal

__all__ = ["Contract", "bind", "contract", "contract_of"]

View = TypeVar("View", bound=Callable[..., Any])

#: The errors every authenticated route may answer (besides the ones a contract names).
COMMON_ERRORS = (400, 401, 403, 404)

log = logging.getLogger(__name__)
_bound: list[Chalice] = []


@dataclass(frozen=True)
class Contract:
    """What one route accepts and answers."""

    summary: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = COMMON_ERRORS
    auth: bool = True
    description: str = ""


class ResponseShapeError(ServiceError):
    """A route answered something its response model does not allow (a bug: 500, logged)."""


def bind(app: Chalice) -> None:
    """The app whose current request the contracts read (called once, in ``app.py``)."""
    _bound[:] = [app]


def _request() -> Request:
    if not _bound or _bound[0].current_request is None:
        raise RuntimeError("chalicelib.contract.bind(app) was not called")
    return _bound[0].current_request


def _shaped(found: type[BaseModel] | None, value: Any, status: int) -> Any:
    if isinstance(value, Response):
        return value
    if found is not None:
        try:
            value = found.model_validate(value).model_dump(mode="json", by_alias=True, exclude_unset=True)
        except ValidationError as exc:
            log.error("response does not fit %s: %s", found.__name__, exc)
            raise ResponseShapeError(f"response does not fit {found.__name__}") from exc
    return Response(body=value, status_code=status) if status != 200 else value


def contract(
    *,
    summary: str,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: Sequence[int] = (),
    auth: bool = True,
    description: str = "",
) -> Callable[[View], View]:
    """Declare a route's contract; the route receives ``principal``, ``query`` and ``body`` as declared.

    ``errors`` adds statuses to the common ones (400, 401, 403, 404), e.g. ``(409,)``.
    """
    declared = Contract(
        summary=summary,
        query=query,
        body=body,
        response=response,
        status=status,
        errors=tuple(sorted({*COMMON_ERRORS, *errors})) if auth else tuple(sorted({400, *errors})),
        auth=auth,
        description=description,
    )

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def route(**path: str) -> Any:
            request = _request()
            kwargs: dict[str, Any] = dict(path)
            if auth:
                caller: Principal = principal_of(request)  # who asks comes before what they send
                kwargs["principal"] = caller
            if query is not None:
                kwargs["query"] = query_model(request, query)
            if body is not None:
                kwargs["body"] = body_model(request, body)
            return _shaped(response, view(**kwargs), status)

        route.__contract__ = declared  # type: ignore[attr-defined]
        return route  # type: ignore[return-value]

    return decorate


def contract_of(view: Callable[..., Any]) -> Contract | None:
    """The contract a view function declared, if any."""
    found = getattr(view, "__contract__", None)
    return found if isinstance(found, Contract) else None
