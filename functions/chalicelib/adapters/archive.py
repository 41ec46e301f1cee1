"""The archive bucket (:class:`chalicelib.ports.archive.Archive`): maintenance tickets and other documents.

Example:
    >>> S3Archive().bucket
    'twinledger-archive'
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib.adapters import aws
from chalicelib.adapters.tables import bucket_name

__all__ = ["S3Archive"]


class S3Archive:
    """Documents in the ``archive`` bucket, one object per key."""

    @property
    def bucket(self) -> str:
        """The physical bucket name."""
        return bucket_name("archive")

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> None:
        """Write ``body`` under ``key``."""
        aws.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; KeyError when there are none."""
        try:
            body: bytes = aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise KeyError(key) from exc
            raise
        return body
