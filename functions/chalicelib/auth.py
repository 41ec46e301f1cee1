"""One authorization layer for every HTTP route: the caller's tenant and role from a token.

In AWS, API Gateway's Cognito authorizer has verified the token and puts its claims in the
request context (``custom:tenant``, ``custom:role``). Locally (``TWINLEDGER_AUTH_MODE=jwt``)
the bearer token is an HS256 JWT signed with ``TWINLEDGER_JWT_SECRET``; :func:`issue_token`
makes one (the CLI, the demo and the tests use it).

Example:
    >>> token = issue_token("s3cret", tenant="factory-1", role="lessee", subject="ana")
    >>> verify_token(token, "s3cret", issuer="twinledger-local").tenant
    'factory-1'
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from chalice.app import Request, UnauthorizedError
from pydantic import ValidationError

from chalicelib.settings import get_settings
from twin_models.tenancy import Principal

__all__ = ["AuthError", "issue_token", "principal_of", "verify_token"]


class AuthError(Exception):
    """A token that is missing, malformed, expired or not signed by us."""


def issue_token(
    secret: str,
    *,
    tenant: str,
    role: str,
    subject: str,
    issuer: str = "twinledger-local",
    ttl_s: int = 3600,
) -> str:
    """A signed HS256 token for local use."""
    now = int(time.time())
    claims = {"sub": subject, "tenant": tenant, "role": role, "iss": issuer, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        return Principal(
            subject=str(claims.get("sub", "")),
            tenant=claims.get("tenant") or claims.get("custom:tenant") or "",
            role=claims.get("role") or claims.get("custom:role") or "",
        )
    except ValidationError as exc:
        raise AuthError("token lacks a valid tenant or role") from exc


def verify_token(token: str, secret: str, issuer: str) -> Principal:
    """The principal of a valid local token; :class:`AuthError` otherwise."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=issuer, options={"require": ["exp", "sub", "iss"]}
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    return _principal(claims)


def principal_of(request: Request) -> Principal:
    """The caller of an HTTP request; raises Chalice's 401 when it cannot be established."""
    settings = get_settings()
    if settings.auth_mode == "cognito":
        claims = ((request.context or {}).get("authorizer") or {}).get("claims")
        if not claims:
            raise UnauthorizedError("no verified identity")
        try:
            return _principal(claims)
        except AuthError as exc:
            raise UnauthorizedError(str(exc)) from exc
    if not settings.jwt_secret:
        raise UnauthorizedError("local authentication is not configured (TWINLEDGER_JWT_SECRET)")
    headers: Any = request.headers or {}
    header = str(headers.get("authorization", ""))
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("missing bearer token")
    try:
        return verify_token(token, settings.jwt_secret, settings.jwt_issuer)
    except AuthError as exc:
        raise UnauthorizedError(str(exc)) from exc
