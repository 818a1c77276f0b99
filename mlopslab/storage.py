"""What a caller of `default_storage` needs to know about the store behind it, whichever it is.

The local folder fails with an OSError; an object store may also not answer at all, or refuse. The object-store
backend (`mlopslab.s3.ObjectStorage`) turns that into `StorageUnavailable`, a refusal (503) whose message says which
file could not be read or written, so that a page answers with it and a job ends failed with it, nothing saved.
This module imports nothing of boto3, so the web process can name the error without loading the SDK.
"""

from mlopslab.refusals import Refused


class StorageUnavailable(Refused):
    """The object store did not answer, or refused; nothing was saved."""

    def __init__(self, message: str, *, status: int = 503) -> None:
        super().__init__(message, status=status)
