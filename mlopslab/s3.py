"""The object-store backend: django-storages' S3Storage (boto3), with three things the Lab relies on.

- **Short timeouts.** A store that does not answer costs a request or a job seconds, not minutes: connect within
  2 s, read within 20 s, three attempts in botocore's standard retry mode (unless STORAGES gives a client_config).
- **Clear failures.** Any error from botocore other than "no such key" becomes `StorageUnavailable`, naming the file
  and what was being done with it; a missing key stays FileNotFoundError, as the local folder raises.
- **Whole reads.** Opening a file for reading downloads it at once, so an outage is reported by `open`, where the
  callers handle it, not halfway through a later `read`. The Lab's files are at most a few megabytes.

Writes are S3 PUTs (or multipart uploads completed in one call): an object appears whole or not at all, so no
half-written file is ever there for another host to read.
"""

import logging

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.exceptions import RetriesExceededError
from storages.backends.s3 import S3Storage

from mlopslab.storage import StorageUnavailable

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2
READ_TIMEOUT = 20
ATTEMPTS = 3


def _unavailable(action: str, name: str, exc: Exception) -> StorageUnavailable:
    logger.warning("object store: %s %s failed: %s: %s", action, name, type(exc).__name__, exc)
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "error")
        return StorageUnavailable(f"The object store refused {action} {name} ({code}); nothing was saved.")
    return StorageUnavailable(
        f"The object store did not answer while {action} {name}; nothing was saved. Try again once it answers."
    )


def _missing(exc: ClientError) -> bool:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


class ObjectStorage(S3Storage):
    def __init__(self, **settings: object) -> None:
        if settings.get("client_config") is None:
            settings["client_config"] = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"max_attempts": ATTEMPTS, "mode": "standard"},
                s3={"addressing_style": settings.get("addressing_style") or "path"},
            )
        super().__init__(**settings)

    def _open(self, name: str, mode: str = "rb") -> object:
        try:
            file = super()._open(name, mode)
            if "w" not in mode:
                file.file  # noqa: B018 - the download itself, so that an outage is raised here
        except FileNotFoundError:
            raise
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(f"File does not exist: {name}") from None
            raise _unavailable("reading", name, exc) from None
        except (BotoCoreError, RetriesExceededError) as exc:
            # RetriesExceededError: s3transfer gave up on a download the store kept cutting short.
            raise _unavailable("reading", name, exc) from None
        return file

    def _save(self, name: str, content: object) -> str:
        try:
            return super()._save(name, content)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable("writing", name, exc) from None

    def exists(self, name: str) -> bool:
        try:
            return super().exists(name)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable("looking for", name, exc) from None

    def delete(self, name: str) -> None:
        try:
            super().delete(name)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable("deleting", name, exc) from None

    def size(self, name: str) -> int:
        try:
            return super().size(name)
        except FileNotFoundError:
            raise
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable("measuring", name, exc) from None
