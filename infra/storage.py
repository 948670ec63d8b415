"""Object storage: one interface, a local folder (embedded) or any S3 API through boto3."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import secrets
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.errors import InvalidInput, ObjectNotFound, StorageUnavailable

# Keys are built by our own code, but parts of them come from outside (channel ids, file
# names): refusing anything but this alphabet keeps every key inside its prefix.
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*$")


class InvalidKey(InvalidInput):
    code = "INVALID_OBJECT_KEY"


def check_key(key: str) -> str:
    """Return the key if it is a safe relative object key, else raise InvalidKey."""
    if len(key) > 512 or not _KEY_RE.match(key) or any(p in ("..", ".") for p in key.split("/")):
        raise InvalidKey(f"invalid object key {key!r}")
    return key


@dataclass(frozen=True)
class StoredObject:
    """An object's bytes and metadata as read from the store."""

    data: bytes
    content_type: str


class ObjectStore(ABC):
    """Blocking object store; async callers run these methods in a thread."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store bytes under key, replacing any object there, atomically."""

    @abstractmethod
    def get(self, key: str) -> StoredObject:
        """Read an object or raise ObjectNotFound."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Tell whether an object exists."""

    def copy(self, source: str, target: str) -> None:
        """Copy an object to another key inside the store (server-side where the store can)."""
        data = self.get(source)
        self.put(target, data.data, data.content_type or "application/octet-stream")

    def total_size(self, prefix: str) -> int:
        """Return the bytes stored under prefix."""
        return sum(len(self.get(key).data) for key in self.list(prefix))

    @abstractmethod
    def delete_many(self, keys: Iterable[str]) -> int:
        """Delete objects (missing ones are ignored); return how many requests were made."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Yield the keys under prefix."""

    def url_for(self, key: str, expires_s: int = 300) -> str | None:
        """Return a URL a client can fetch the object from directly, if the store has one."""
        return None

    @abstractmethod
    def probe(self) -> None:
        """Check the store answers (the health probe); raise StorageUnavailable when it does not."""

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        """Store a file's bytes under key without reading it into memory (large objects)."""

    @abstractmethod
    def read_chunks(self, key: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """Yield an object's bytes in chunks (raises ObjectNotFound before the first)."""

    # -- multipart uploads: large files sent in parts, straight to the store where it can ----------
    # The generic form keeps parts as objects under multipart/{upload id}/ and joins them on
    # completion; S3 uses its own multipart upload, with presigned part URLs clients PUT to.
    def start_multipart(self, key: str) -> str:
        """Begin a multipart upload of key; return its upload id."""
        return secrets.token_hex(16)

    def part_url(self, key: str, upload_id: str, part: int, expires_s: int) -> str | None:
        """Return a URL the client PUTs a part to directly, or None when the API receives parts (put_part)."""
        return None

    def put_part(self, upload_id: str, part: int, path: Path) -> str:
        """Store one part received by the API; return its ETag (the MD5 of its bytes, as S3 gives)."""
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        self.put_file(f"multipart/{check_key(upload_id)}/{part}", path)
        return digest.hexdigest()

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> int:
        """Join the parts, in order, into key; return the object's size. An ETag that does not match fails."""
        with tempfile.TemporaryDirectory(prefix="smartgo-join-") as tmp:
            joined = Path(tmp) / "joined"
            with joined.open("wb") as out:
                for part, etag in parts:
                    digest = hashlib.md5(usedforsecurity=False)
                    for chunk in self.read_chunks(f"multipart/{check_key(upload_id)}/{part}", 1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                    if digest.hexdigest() != etag.strip('"'):
                        raise InvalidInput(f"part {part} does not match its ETag", part=part)
            size = joined.stat().st_size
            self.put_file(key, joined)
        self.abort_multipart(key, upload_id)
        return size

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop a multipart upload and the parts it holds."""
        self.delete_many(list(self.list(f"multipart/{check_key(upload_id)}")))


class LocalObjectStore(ObjectStore):
    """Objects as files under a root folder; writes go through a temp file and a rename."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._folders: set[str] = set()  # folders known to exist: no mkdir per write
        self._serial = itertools.count()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise InvalidKey(f"invalid object key {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        # A folder is resolved (symlinks and all) the first time it is written to; later
        # writes skip that, as resolving costs a system call per folder level.
        path = Path(os.path.join(self.root, check_key(key)))
        folder = str(path.parent)
        if folder not in self._folders:
            path = self._path(key)
        try:
            if folder not in self._folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                if len(self._folders) > 10_000:
                    self._folders.clear()
                self._folders.add(folder)
            # A temp name unique to this process and thread: cheaper than mkstemp's random
            # names, and O_EXCL still refuses to write through anything already there.
            tmp = f"{folder}/.tmp-{os.getpid()}-{threading.get_ident()}-{next(self._serial)}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:  # the folder was removed since we saw it
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError as err:
            raise StorageUnavailable(f"local storage write failed: {err.strerror}") from err

    def get(self, key: str) -> StoredObject:
        try:
            return StoredObject(self._path(key).read_bytes(), "application/octet-stream")
        except FileNotFoundError as err:
            raise ObjectNotFound(f"no object {key!r}") from err
        except OSError as err:
            raise StorageUnavailable(f"local storage read failed: {err.strerror}") from err

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def copy(self, source: str, target: str) -> None:
        path = self._path(source)
        if not path.is_file():
            raise ObjectNotFound(f"no object {source!r}")
        self.put_file(target, path)

    def total_size(self, prefix: str) -> int:
        return sum(self._path(key).stat().st_size for key in self.list(prefix))

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        target = self._path(key)
        tmp = target.parent / f".tmp-{os.getpid()}-{threading.get_ident()}-{next(self._serial)}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except OSError as err:
            raise StorageUnavailable(f"local storage write failed: {err.strerror}") from err

    def probe(self) -> None:
        if not (self.root.is_dir() and os.access(self.root, os.W_OK)):
            raise StorageUnavailable(f"the storage folder {self.root} is missing or read-only")

    def read_chunks(self, key: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        try:
            fh = self._path(key).open("rb")
        except FileNotFoundError as err:
            raise ObjectNotFound(f"no object {key!r}") from err
        except OSError as err:
            raise StorageUnavailable(f"local storage read failed: {err.strerror}") from err
        return _chunks_of(fh, chunk_size)

    def delete_many(self, keys: Iterable[str]) -> int:
        count = 0
        for key in keys:
            count += 1
            # As in put: a folder is resolved (symlinks and all) once, not for every key in it.
            path = os.path.join(self.root, check_key(key))
            folder = os.path.dirname(path)
            if folder not in self._folders:
                self._path(key)
                if len(self._folders) > 10_000:
                    self._folders.clear()
                self._folders.add(folder)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as err:
                raise StorageUnavailable(f"local storage delete failed: {err.strerror}") from err
        return count

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.rstrip("/") if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()


class S3ObjectStore(ObjectStore):
    """Objects in an S3 bucket (AWS, MinIO, Ceph, moto) under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                retries={"max_attempts": 2, "mode": "standard"},
                max_pool_connections=50,
                s3={"addressing_style": "path"},
            ),
        )

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _translate(self, err: Exception, key: str) -> Exception:

        if isinstance(err, ClientError):
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                return ObjectNotFound(f"no object {key!r}")
            return StorageUnavailable(f"object storage error {code}")
        return StorageUnavailable(f"object storage unreachable: {type(err).__name__}")

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (for tests and first runs)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)
        except BotoCoreError as err:
            raise StorageUnavailable("object storage unreachable") from err

    def probe(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as err:
            raise self._translate(err, self.bucket) from err

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        full = self._key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data, ContentType=content_type)
        except Exception as err:  # botocore raises many unrelated types
            raise self._translate(err, key) from err

    def get(self, key: str) -> StoredObject:
        full = self._key(key)
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=full)
            return StoredObject(resp["Body"].read(), resp.get("ContentType", ""))
        except Exception as err:
            raise self._translate(err, key) from err

    def copy(self, source: str, target: str) -> None:
        # CopyObject: the bytes never leave the storage service (one request per object up to 5 GB).
        try:
            self.client.copy_object(Bucket=self.bucket, Key=self._key(target),
                                    CopySource={"Bucket": self.bucket, "Key": self._key(source)})
        except Exception as err:
            raise self._translate(err, source) from err

    def total_size(self, prefix: str) -> int:
        return sum(size for _, size in self._listing(prefix))

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        try:  # boto3's transfer manager: multipart above 8 MB, one part in memory at a time
            self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs={"ContentType": content_type})
        except Exception as err:
            raise self._translate(err, key) from err

    def read_chunks(self, key: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except Exception as err:
            raise self._translate(err, key) from err
        return self._body_chunks(body, key, chunk_size)

    def _body_chunks(self, body, key: str, chunk_size: int) -> Iterator[bytes]:  # noqa: ANN001
        try:
            yield from body.iter_chunks(chunk_size)
        except Exception as err:
            raise self._translate(err, key) from err
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except Exception as err:
            translated = self._translate(err, key)
            if isinstance(translated, ObjectNotFound):
                return False
            raise translated from err

    def delete_many(self, keys: Iterable[str]) -> int:
        batch: list[dict[str, str]] = []
        requests = 0
        for key in keys:
            batch.append({"Key": self._key(key)})
            if len(batch) == 1000:  # DeleteObjects takes at most 1000 keys
                requests += self._delete_batch(batch)
                batch = []
        if batch:
            requests += self._delete_batch(batch)
        return requests

    def _delete_batch(self, batch: list[dict[str, str]]) -> int:
        try:
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        except Exception as err:
            raise self._translate(err, batch[0]["Key"]) from err
        return 1

    def list(self, prefix: str) -> Iterator[str]:
        return (key for key, _ in self._listing(prefix))

    def _listing(self, prefix: str) -> Iterator[tuple[str, int]]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :], int(item.get("Size", 0))
        except Exception as err:
            raise self._translate(err, prefix) from err

    def start_multipart(self, key: str) -> str:
        try:
            return self.client.create_multipart_upload(Bucket=self.bucket, Key=self._key(key))["UploadId"]
        except Exception as err:
            raise self._translate(err, key) from err

    def part_url(self, key: str, upload_id: str, part: int, expires_s: int) -> str | None:
        return self.client.generate_presigned_url(
            "upload_part", Params={"Bucket": self.bucket, "Key": self._key(key), "UploadId": upload_id,
                                   "PartNumber": part}, ExpiresIn=expires_s)

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> int:

        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self._key(key), UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e if e.startswith('"') else f'"{e}"'}
                                           for n, e in parts]})
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall",
                                                             "NoSuchUpload"):
                raise InvalidInput(f"the parts do not make the upload: {err.response['Error']['Code']}") from err
            raise self._translate(err, key) from err
        except Exception as err:
            raise self._translate(err, key) from err

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key), UploadId=upload_id)
        except Exception as err:
            translated = self._translate(err, key)
            if not isinstance(translated, ObjectNotFound):
                raise translated from err

    def url_for(self, key: str, expires_s: int = 300) -> str | None:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_s
        )


def _chunks_of(fh, chunk_size: int) -> Iterator[bytes]:  # noqa: ANN001
    with fh:
        while chunk := fh.read(chunk_size):
            yield chunk


def make_store(settings) -> ObjectStore:  # noqa: ANN001
    """Build the object store named by SMARTGO_STORAGE_URL."""
    parsed = urlparse(settings.storage_url)
    if parsed.scheme == "file":
        return LocalObjectStore(Path(parsed.path))
    store = S3ObjectStore(
        parsed.netloc,
        parsed.path,
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id or None,
        secret_access_key=settings.s3_secret_access_key or None,
        timeout_s=settings.storage_timeout_s,
    )
    return store
