"""What every DynamoDB adapter shares: the one rule for "the conditional write failed".

A conditional ``PutItem``/``UpdateItem``/``DeleteItem`` whose condition does not hold raises
``ConditionalCheckFailedException``; a ``TransactWriteItems`` whose condition does not hold raises
``TransactionCanceledException``. Both mean "the item is not in the state the write expected" (a
duplicate, a cursor that moved, a claim someone else holds): the adapters answer ``False`` for it,
never an error.

Example:
    >>> from botocore.exceptions import ClientError
    >>> conditional_failed(ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem"))
    True
    >>> conditional_failed(ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem"))
    False
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

__all__ = ["CONDITIONAL_FAILURES", "conditional_failed", "write_if"]

#: The error codes of a write whose condition did not hold.
CONDITIONAL_FAILURES = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


def conditional_failed(exc: ClientError) -> bool:
    """True when ``exc`` says a conditional write's condition did not hold."""
    return str(exc.response.get("Error", {}).get("Code", "")) in CONDITIONAL_FAILURES


def write_if(write: Callable[[], object]) -> bool:
    """Run one conditional write: True when it was made, False when its condition did not hold; any other
    error propagates (a throttle is retried by the caller's delivery, never taken for "already there")."""
    try:
        write()
    except ClientError as exc:
        if conditional_failed(exc):
            return False
        raise
    return True
