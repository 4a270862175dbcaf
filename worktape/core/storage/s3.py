"""S3 and any S3-compatible server, through boto3.

Credentials, region and endpoint come from the usual AWS sources (environment,
~/.aws/config, instance roles); `endpoint_url` or WORKTAPE_S3_ENDPOINT_URL point it at
another server. The sha256 of every object is sent for the server to check
(ChecksumSHA256): a server that checked it says so in its answer, which proves the
upload without reading it back. The sha256 is also kept as user metadata, so that a
HEAD can prove an upload where the server does not check.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from worktape.core.storage.base import (
    AccessDenied,
    Body,
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    Storage,
    check_key,
    sha256_of,
)

MULTIPART_THRESHOLD = 64 << 20
PART_SIZE = 16 << 20


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _b64(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        client: Any = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        page_size: int = 1000,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        endpoint_url = endpoint_url or os.environ.get("WORKTAPE_S3_ENDPOINT_URL") or None
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region_name,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                s3={"addressing_style": "path"} if endpoint_url else None,
            ),
        )
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.page_size = page_size

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(
        self,
        key: str,
        body: Body,
        *,
        overwrite: bool = False,
        sha256: str | None = None,
        durable: bool = True,  # every S3 put is durable when it returns
    ) -> ObjectInfo:
        digest, size = sha256_of(body)
        if sha256 is not None and sha256 != digest:
            raise ValueError(f"{key}: content sha256 {digest} != expected {sha256}")
        cond = {} if overwrite else {"IfNoneMatch": "*"}
        try:
            if size > self.multipart_threshold:
                verified = self._put_multipart(key, body, digest, cond)
            else:
                data = body if isinstance(body, bytes) else open(body, "rb").read()  # noqa: SIM115
                r = self.client.put_object(
                    Bucket=self.bucket,
                    Key=self._k(key),
                    Body=data,
                    ChecksumSHA256=_b64(digest),
                    Metadata={"sha256": digest},
                    **cond,
                )
                verified = r.get("ChecksumSHA256") == _b64(digest)
        except ClientError as e:
            if _code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise ObjectExists(key) from None
            if _code(e) in ("AccessDenied", "403"):
                raise AccessDenied(f"{key}: {e}") from None
            raise
        return ObjectInfo(key, size, digest, verified=verified)

    def _put_multipart(self, key: str, body: Body, digest: str, cond: dict[str, str]) -> bool:
        """Upload in parts, each checked by the server; True if it confirmed them all."""
        k = self._k(key)
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=k, Metadata={"sha256": digest}, ChecksumAlgorithm="SHA256"
        )
        upload_id = upload["UploadId"]
        confirmed = True
        try:
            parts = []
            for number, chunk in enumerate(_chunks(body, self.part_size), start=1):
                part_sha = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                r = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=k,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumSHA256=part_sha,
                )
                confirmed = confirmed and r.get("ChecksumSHA256") == part_sha
                parts.append({"PartNumber": number, "ETag": r["ETag"], "ChecksumSHA256": part_sha})
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=k,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **cond,
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=k, UploadId=upload_id)
            raise
        return confirmed

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        return self._open(key)

    @contextmanager
    def _open(self, key: str) -> Iterator[BinaryIO]:
        try:
            r = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as e:
            if _code(e) in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from None
            raise
        body = r["Body"]
        try:
            yield body
        finally:
            body.close()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            r = self.client.get_object(
                Bucket=self.bucket, Key=self._k(key), Range=f"bytes={start}-{start + length - 1}"
            )
        except ClientError as e:
            if _code(e) in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from None
            if _code(e) in ("InvalidRange", "416"):
                return b""
            raise
        with r["Body"] as body:
            data: bytes = body.read()
        return data

    def head(self, key: str) -> ObjectInfo | None:
        try:
            r = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as e:
            if _code(e) in ("404", "NoSuchKey", "NotFound"):
                return None
            if _code(e) in ("403", "AccessDenied", "Forbidden"):
                raise AccessDenied(f"{key}: {e}") from None
            raise
        return ObjectInfo(
            key, r["ContentLength"], r.get("Metadata", {}).get("sha256"), r.get("LastModified")
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        n = len(self.prefix)
        for page in paginator.paginate(
            Bucket=self.bucket,
            Prefix=self.prefix + prefix,
            PaginationConfig={"PageSize": self.page_size},
        ):
            for obj in page.get("Contents", []):
                yield ObjectInfo(obj["Key"][n:], obj["Size"], None, obj.get("LastModified"))

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        n = len(self.prefix)
        out: list[str] = []
        for page in paginator.paginate(
            Bucket=self.bucket,
            Prefix=self.prefix + prefix,
            Delimiter="/",
            PaginationConfig={"PageSize": self.page_size},
        ):
            out.extend(cp["Prefix"][n:] for cp in page.get("CommonPrefixes", []))
        return sorted(out)

    def copy(self, src: str, dst: str, *, overwrite: bool = False) -> ObjectInfo:
        info = self.head(src)
        if info is None:
            raise ObjectMissing(src)
        if not overwrite and self.head(dst) is not None:
            raise ObjectExists(dst)
        # managed copy: server-side, multipart above 5 GB, metadata (sha256) kept
        self.client.copy({"Bucket": self.bucket, "Key": self._k(src)}, self.bucket, self._k(dst))
        return ObjectInfo(dst, info.size, info.sha256)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))


def _chunks(body: Body, size: int) -> Iterator[bytes]:
    if isinstance(body, bytes):
        for i in range(0, len(body), size):
            yield body[i : i + size]
        return
    with open(body, "rb") as f:
        while chunk := f.read(size):
            yield chunk
