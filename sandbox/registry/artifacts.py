"""Loading a registered version's fitted pipeline: only from the path the app wrote for its run, and only when
the file's bytes still hash to the SHA-256 recorded when the run saved it.

Loaded pipelines are kept per process, keyed by path and SHA-256, so the gate and the serving endpoint unpickle
a version once; a version whose file changed is a different key and is refused before anything is unpickled. The
path is a storage key and the SHA-256 is the database's, so the key means the same on every host, whichever host
wrote the file into the store (the local folder, or an object store every host shares).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from typing import Any

from django.core.files.storage import default_storage

from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from mlopslab.storage import StorageUnavailable
from sandbox.registry.models import ModelVersion

joblib = lazy_module("joblib")

# Pipelines kept per process: a few dozen small scikit-learn pipelines.
CACHE_SIZE = 32
_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
_lock = threading.Lock()


class ModelFileRefused(Refused):
    """The model file was not loaded; the message says why."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message, status=status)


def expected_path(version: ModelVersion) -> str:
    """Where the worker writes a run's pipeline (`sandbox.tracking.services.run_train`)."""
    return f"runs/{version.run_id}/model.joblib"


def model_load(version: ModelVersion) -> Any:
    """The version's fitted pipeline; refuses a path the app did not write and a file whose SHA-256 differs."""
    path, sha = version.model_file, version.model_sha256
    if path != expected_path(version) or not sha:
        raise ModelFileRefused(f"Version {version.number}'s model file is not one the app wrote; it is not loaded.")
    key = (path, sha)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    try:
        with default_storage.open(path, "rb") as handle:
            content = handle.read()
    except OSError:
        raise ModelFileRefused(f"Version {version.number}'s model file is missing.") from None
    except StorageUnavailable as unavailable:
        # The store did not answer: the file may well be there, so say so rather than "missing".
        raise ModelFileRefused(unavailable.message, status=503) from None
    if hashlib.sha256(content).hexdigest() != sha:
        raise ModelFileRefused(
            f"Version {version.number}'s model file no longer matches the SHA-256 recorded when it was trained, "
            "so it is not loaded."
        )
    pipeline = joblib.load(io.BytesIO(content))
    with _lock:
        _cache[key] = pipeline
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return pipeline


def model_cache_clear() -> None:
    with _lock:
        _cache.clear()
