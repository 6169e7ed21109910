"""The remote: a team's clips on object storage (or a shared folder).

A remote is given by a URL: ``s3://bucket/prefix`` (AWS and S3-compatible
servers: MinIO, R2, Ceph…), ``gs://…``, ``az://…``, or a plain folder path (a
shared drive). Object stores go through obstore (the Rust ``object_store``
crate behind a thin Python layer): one library for all three clouds, with
conditional create (``If-None-Match: *``) and conditional update
(``If-Match``) on S3. Credentials and the endpoint come from each store's
standard environment (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``; an ``http://`` endpoint, such as
a local S3 server, works with those alone) and are never written anywhere.

The layout mirrors the local cache: ``objects/ab/<sha256>.mp4`` and
``keys/cd/<key>.json``. Every object is written whole (a single PUT, or a
multipart upload that becomes visible only when complete), so a reader never
sees a partial one.

Every object is untrusted (``layout.py``): a name the tool does not write is
ignored with one warning, a small object (a record, a claim) is read only up
to ``SMALL`` bytes, and a clip only up to the size its record states, hashed
as it streams, so memory stays flat whatever the bucket holds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Callable, Protocol
from urllib.parse import urlparse

from ..errors import StoryboardError, UsageError, printable
from .layout import Foreign, refused_name, resume_after
from .storage import LocalStorage, synced_temp

REMOTE_VARIABLE = "STORYBOARD_REMOTE"
CLOUD_SCHEMES = ("s3", "gs", "az", "abfs", "abfss", "azure")
CHUNK = 8 * 1024 * 1024
SMALL = 64 * 1024  # bytes: more than any record or claim the tool writes
RESTARTS = 1000  # listings resumed past names object_store cannot parse, at most


class RemoteError(StoryboardError):
    """The remote could not be read or written; the message says which and why."""


class Remote(Protocol):
    url: str
    foreign: Foreign  # the names met that the tool does not write: one warning per command

    def get(self, name: str, limit: int = SMALL) -> bytes | None: ...  # at most limit + 1 bytes
    def create(self, name: str, data: bytes) -> bool: ...
    def read(self, name: str, limit: int = SMALL) -> tuple[bytes, str] | None: ...  # bytes, a version for update()
    def update(self, name: str, data: bytes, version: str) -> bool: ...  # only if still at that version
    def delete(self, name: str) -> None: ...
    def download(self, name: str, dest: Path, limit: int | None = None) -> str | None: ...  # sha256 of what it wrote
    def upload(self, name: str, source: Path) -> None: ...
    def exists(self, name: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...  # every name it can read (filter with foreign.keep)
    def check(self) -> None: ...  # raises RemoteError when the remote cannot be read at all


def remote_url(flag: str | None, storyboard_remote: str | None, env=None) -> str | None:
    """``--remote`` wins over ``STORYBOARD_REMOTE``, which wins over the storyboard's ``remote:``."""
    env = os.environ if env is None else env
    return flag or env.get(REMOTE_VARIABLE) or storyboard_remote or None


def open_remote(url: str, root: Path | None = None, warn: Callable[[str], None] = lambda message: None) -> Remote:
    """The remote at ``url``; a relative folder path is taken from ``root``. ``warn``: told
    once that the remote holds objects the tool did not write (they are ignored)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in CLOUD_SCHEMES:
        remote = ObjectRemote(url)
    elif scheme in ("", "file"):
        folder = Path(url.removeprefix("file://"))
        if not folder.is_absolute() and root is not None:
            folder = root / folder
        remote = FolderRemote(folder)
    else:
        raise UsageError(f"remote `{printable(url, lines=False)}`: use s3://bucket/prefix, gs://…, az://… "
                         "or a folder path")
    remote.foreign = Foreign(remote.url, warn)
    return remote


class FolderRemote:
    """A shared folder, written as the local cache is (temporary file, then rename or
    link). Clips are synced to disk; small objects (records, claims) are not: one lost
    in a power cut is a miss, pushed or claimed again."""

    def __init__(self, folder: Path):
        self.url = str(folder)
        self.storage = LocalStorage(folder)
        self.foreign = Foreign(self.url)

    def get(self, name: str, limit: int = SMALL) -> bytes | None:
        return self.storage.head(name, limit)

    def create(self, name: str, data: bytes) -> bool:
        """Written whole to a temporary file, then linked into place: ``link`` fails when the
        name exists (of two writers, exactly one creates it) and no reader sees a partial file."""
        path = self.storage.root / name
        tmp = synced_temp(path.parent, lambda out: out.write(data), sync=False)  # small: a record, a claim
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)

    def read(self, name: str, limit: int = SMALL) -> tuple[bytes, str] | None:
        data = self.storage.head(name, limit)
        return None if data is None else (data, hashlib.sha256(data).hexdigest())

    def update(self, name: str, data: bytes, version: str) -> bool:
        self.storage.root.mkdir(parents=True, exist_ok=True)
        with open(self.storage.root / ".update.lock", "a") as guard:  # read, compare and write under one lock
            fcntl.flock(guard, fcntl.LOCK_EX)
            current = self.read(name)
            if current is None or current[1] != version:
                return False
            path = self.storage.root / name
            os.replace(synced_temp(path.parent, lambda out: out.write(data), sync=False), path)
            return True

    def delete(self, name: str) -> None:
        self.storage.delete(name)

    def download(self, name: str, dest: Path, limit: int | None = None) -> str | None:
        source = self.storage.local_copy(name)
        if source is None:
            return None
        with open(source, "rb") as src, open(dest, "wb") as out:
            return _copy_bounded(iter(lambda: src.read(CHUNK), b""), out, limit)

    def upload(self, name: str, source: Path) -> None:
        self.storage.put_file_if_absent(name, source)

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def check(self) -> None:
        """A folder that is not there is an error naming it (a typo must not read as an empty remote);
        ``push --create`` makes a new one. One that is a file is not a remote."""
        if not self.storage.root.exists():
            raise RemoteError(f"remote {self.url}: no such folder; check the path, or make a new folder remote "
                              "with `storyboard push --create`")
        if not self.storage.root.is_dir():
            raise RemoteError(f"remote {self.url}: is a file, not a folder")

    def list(self, prefix: str) -> list[str]:
        return list(self.storage.list(prefix))


def create_folder_remote(url: str, root: Path | None = None) -> bool:
    """Make the folder of a folder remote (``push --create``); True if it was made. A bucket is not
    made here: that is the cloud's own business (its console or CLI), and a typo must not become one."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in CLOUD_SCHEMES:
        return False
    folder = Path(url.removeprefix("file://"))
    if not folder.is_absolute() and root is not None:
        folder = root / folder
    if folder.exists():
        return False
    folder.mkdir(parents=True)
    return True


class ObjectRemote:
    """S3, GCS or Azure through obstore."""

    def __init__(self, url: str):
        from obstore.store import from_url

        self.url = url
        self.foreign = Foreign(url)
        path = urlparse(url).path.strip("/")
        self.prefix = f"{path}/" if path else ""  # object_store names objects with it in its errors
        options = {"timeout": "120s", "connect_timeout": "15s"}
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "") + os.environ.get("AWS_ENDPOINT_URL_S3", "")
        if url.startswith("s3://") and "http://" in endpoint:
            options["allow_http"] = True  # a local S3 server: the endpoint variable alone must be enough
        try:
            self.store = from_url(url, client_options=options,
                                  retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=60)})
        except Exception as exc:  # obstore raises its own error types for a bad URL or configuration
            raise RemoteError(f"remote {printable(url, lines=False)}: {_short(exc)}") from None

    def _call(self, what: str, name: str, fn):
        import obstore.exceptions as errors

        try:
            return fn()
        except (errors.NotFoundError, FileNotFoundError):
            return None
        except (errors.BaseError, OSError) as exc:
            raise RemoteError(f"remote {self.url}: cannot {what} {name}: {_short(exc)}") from None

    def get(self, name: str, limit: int = SMALL) -> bytes | None:
        found = self.read(name, limit)
        return None if found is None else found[0]

    def create(self, name: str, data: bytes) -> bool:
        import obstore as obs
        import obstore.exceptions as errors

        try:
            obs.put(self.store, name, data, mode="create")
            return True
        except (errors.AlreadyExistsError, errors.PreconditionError):
            return False
        except (errors.BaseError, OSError) as exc:
            raise RemoteError(f"remote {self.url}: cannot write {name}: {_short(exc)}") from None

    def read(self, name: str, limit: int = SMALL) -> tuple[bytes, str] | None:
        """The first ``limit`` + 1 bytes at most (streamed, the rest never fetched) and the version."""
        import obstore as obs

        def fetch():
            result = obs.get(self.store, name)
            data = bytearray()
            for chunk in result.stream(min_chunk_size=min(limit + 1, CHUNK)):
                data += memoryview(chunk)[: limit + 1 - len(data)]
                if len(data) > limit:
                    break
            return bytes(data), str(result.meta.get("e_tag") or "")

        return self._call("read", name, fetch)

    def update(self, name: str, data: bytes, version: str) -> bool:
        import obstore as obs
        import obstore.exceptions as errors

        try:  # If-Match: of two writers holding the same version, one wins
            obs.put(self.store, name, data, mode={"e_tag": version})
            return True
        except (errors.PreconditionError, errors.NotFoundError, FileNotFoundError):
            return False
        except (errors.BaseError, OSError) as exc:
            raise RemoteError(f"remote {self.url}: cannot write {name}: {_short(exc)}") from None

    def delete(self, name: str) -> None:
        import obstore as obs

        self._call("delete", name, lambda: obs.delete(self.store, name))

    def download(self, name: str, dest: Path, limit: int | None = None) -> str | None:
        import obstore as obs

        def fetch() -> str:
            result = obs.get(self.store, name)
            with open(dest, "wb") as out:
                return _copy_bounded(result.stream(min_chunk_size=CHUNK), out, limit)

        return self._call("read", name, fetch)

    def upload(self, name: str, source: Path) -> None:
        import obstore as obs

        self._call("write", name, lambda: obs.put(self.store, name, source, chunk_size=CHUNK))

    def exists(self, name: str) -> bool:
        import obstore as obs

        return self._call("look for", name, lambda: obs.head(self.store, name)) is not None

    def check(self) -> None:
        """One listing request: a missing bucket or refused credentials say so now, not as missing clips."""
        import obstore as obs
        import obstore.exceptions as errors

        try:
            next(iter(obs.list(self.store, chunk_size=1)), None)
        except errors.InvalidPathError as exc:  # the listing came back: the remote is readable
            self.foreign.saw(refused_name(str(exc), self.prefix) or "a name object_store cannot read")
        except (errors.BaseError, OSError) as exc:
            raise RemoteError(f"remote {self.url}: cannot be read ({_short(exc)}); check the URL, the bucket "
                              "and the credentials in the environment") from None

    def list(self, prefix: str) -> list[str]:
        """The names under ``prefix``, sorted. object_store refuses a whole listing page that
        holds a name it cannot parse (``..``, control characters): the listing resumes past it, and
        names of that page before it are missed (``gaps`` counts such resumptions)."""
        import obstore as obs
        import obstore.exceptions as errors

        names: list[str] = []
        offset = None
        for _ in range(RESTARTS):
            try:
                for batch in obs.list(self.store, prefix=prefix, offset=offset):
                    names += (item["path"] for item in batch)
                break
            except errors.InvalidPathError as exc:
                bad = refused_name(str(exc), self.prefix)
                after = resume_after(bad) if bad is not None else None
                self.foreign.saw(bad or "a name object_store cannot read")
                self.foreign.gaps += 1
                if after is None or (offset is not None and after <= offset):
                    break  # no way past it: what was listed is all there is
                offset = after
            except (errors.BaseError, OSError) as exc:
                raise RemoteError(f"remote {self.url}: cannot list {prefix}: {_short(exc)}") from None
        return sorted(set(names))


def _copy_bounded(chunks, out, limit: int | None) -> str:
    """Write ``chunks`` to ``out``, at most ``limit`` + 1 bytes (an object larger than its record
    says is refused by its size, without filling the disk first); the sha256 of what was written,
    hashed as it streams, so the clip is not read a second time to be verified."""
    digest = hashlib.sha256()
    written = 0
    for chunk in chunks:
        view = memoryview(chunk)
        if limit is not None:
            view = view[: limit + 1 - written]
        out.write(view)
        digest.update(view)
        written += len(view)
        if limit is not None and written > limit:
            break
    return digest.hexdigest()


def _short(exc: BaseException) -> str:
    """The first line of an obstore error, which names the request but never a secret; it may
    quote an object's name, so its control characters are escaped."""
    text = str(exc).strip().splitlines()
    return printable(text[0][:300], lines=False) if text else type(exc).__name__
