"""Secrets Manager: the chain signing key's secret.

Example:
    >>> read_secret  # doctest: +ELLIPSIS
    <function read_secret at ...>
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib.adapters import aws
from chalicelib.ports.chain import ChainConfigurationError

__all__ = ["read_secret"]


def read_secret(secret_id: str) -> str:
    """The string value of a Secrets Manager secret (the chain signing key)."""
    try:
        answer = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        raise ChainConfigurationError(f"cannot read secret {secret_id}: {exc}") from exc
    value = answer.get("SecretString")
    if not value:
        raise ChainConfigurationError(f"secret {secret_id} holds no string")
    return str(value)
