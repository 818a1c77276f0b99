"""Where the Lab keeps its files is read from the environment: the local folder by default, an S3-compatible object
store when STORAGE_URL (or AWS_STORAGE_BUCKET_NAME) names a bucket, and a start-up error naming the variable for a
value that cannot be read or half a configuration."""

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile

from mlopslab.settings import storage_from_environment
from mlopslab.storage import StorageUnavailable

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
KEYS = {"AWS_ACCESS_KEY_ID": "lab-key", "AWS_SECRET_ACCESS_KEY": "lab-secret"}


def test_without_storage_variables_files_stay_in_the_local_folder() -> None:
    assert storage_from_environment({}) == LOCAL
    # Keys alone (the host has AWS credentials for something else) choose nothing.
    assert storage_from_environment(KEYS) == LOCAL
    assert storage_from_environment({"STORAGE_URL": "  "}) == LOCAL


def test_storage_url_names_the_bucket_prefix_endpoint_and_region() -> None:
    url = "s3://lab-artifacts/prod?endpoint_url=http://127.0.0.1:9000&region=us-east-1&addressing_style=path"
    assert storage_from_environment({"STORAGE_URL": url, **KEYS}) == {
        "BACKEND": "mlopslab.s3.ObjectStorage",
        "OPTIONS": {
            "bucket_name": "lab-artifacts",
            "location": "prod",
            "endpoint_url": "http://127.0.0.1:9000",
            "region_name": "us-east-1",
            "addressing_style": "path",
            "access_key": "lab-key",
            "secret_key": "lab-secret",
        },
    }


def test_the_usual_aws_variables_choose_the_object_store_too() -> None:
    environ = {"AWS_STORAGE_BUCKET_NAME": "lab", "AWS_S3_ENDPOINT_URL": "https://s3.example.org",
               "AWS_S3_REGION_NAME": "eu-west-1"}  # fmt: skip
    assert storage_from_environment(environ) == {
        "BACKEND": "mlopslab.s3.ObjectStorage",
        "OPTIONS": {"bucket_name": "lab", "endpoint_url": "https://s3.example.org", "region_name": "eu-west-1"},
    }
    # Beside STORAGE_URL, an AWS_* variable that agrees with it (or adds to it) is fine.
    both = {"STORAGE_URL": "s3://lab", "AWS_STORAGE_BUCKET_NAME": "lab", "AWS_S3_REGION_NAME": "eu-west-1"}
    assert storage_from_environment(both)["OPTIONS"] == {"bucket_name": "lab", "region_name": "eu-west-1"}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"STORAGE_URL": "gs://lab"}, "STORAGE_URL='gs://lab': only s3://bucket URLs"),
        ({"STORAGE_URL": "/srv/files"}, "STORAGE_URL='/srv/files': only s3://bucket URLs"),
        ({"STORAGE_URL": "s3://"}, "STORAGE_URL='s3://' names no bucket"),
        ({"STORAGE_URL": "s3://key:secret@lab"}, "STORAGE_URL must not carry credentials"),
        ({"STORAGE_URL": "s3://minio:9000/lab"}, "'minio:9000' is not a bucket name; the store's address goes in"),
        ({"STORAGE_URL": "s3://lab?endpoint=http://x"}, "STORAGE_URL: 'endpoint' is not an option"),
        ({"STORAGE_URL": "s3://lab?region="}, "STORAGE_URL: the option 'region' has no value"),
        ({"STORAGE_URL": "s3://lab?endpoint_url=127.0.0.1:9000"}, "STORAGE_URL: the endpoint '127.0.0.1:9000'"),
        ({"STORAGE_URL": "s3://lab?endpoint_url=http://127.0.0.1:abc"}, "has a port that is not a number"),
        ({"AWS_STORAGE_BUCKET_NAME": "lab", "AWS_S3_ENDPOINT_URL": "http://x:99999"}, "'http://x:99999' has a port"),
        ({"STORAGE_URL": "s3://lab?addressing_style=sideways"}, "addressing_style='sideways'"),
        ({"STORAGE_URL": "s3://lab", "AWS_STORAGE_BUCKET_NAME": "other"}, "STORAGE_URL and AWS_STORAGE_BUCKET_NAME"),
        ({"AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}, "AWS_S3_ENDPOINT_URL is set but AWS_STORAGE_BUCKET_NAME"),
        ({"AWS_S3_REGION_NAME": "us-east-1"}, "AWS_S3_REGION_NAME is set but AWS_STORAGE_BUCKET_NAME"),
        ({"AWS_STORAGE_BUCKET_NAME": "lab", "AWS_S3_ENDPOINT_URL": "ftp://x"}, "AWS_S3_ENDPOINT_URL: the endpoint"),
        ({"STORAGE_URL": "s3://lab", "AWS_ACCESS_KEY_ID": "k"}, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY"),
        ({"STORAGE_URL": "s3://lab", "AWS_SECRET_ACCESS_KEY": "s"}, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY"),
    ],
)
def test_a_bad_or_partial_configuration_is_refused_naming_the_variable(environ: dict, message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        storage_from_environment(environ)
    assert message in str(refused.value)


def test_a_bad_storage_url_stops_the_start_with_the_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORAGE_URL", "AWS_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env={**env, "STORAGE_URL": "s3://lab?bucket=x"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "STORAGE_URL: 'bucket' is not an option" in result.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_store_that_does_not_answer_is_a_clear_refusal_naming_the_file() -> None:
    from mlopslab.s3 import ObjectStorage

    store = ObjectStorage(bucket_name="lab", endpoint_url=f"http://127.0.0.1:{_closed_port()}",
                          region_name="us-east-1", access_key="k", secret_key="s")  # fmt: skip
    with pytest.raises(StorageUnavailable, match=r"while writing runs/1/model\.joblib; nothing was saved") as failed:
        store.save("runs/1/model.joblib", ContentFile(b"x"))
    assert failed.value.status == 503
    with pytest.raises(StorageUnavailable, match=r"while reading datasets/1/1\.csv"):
        store.open("datasets/1/1.csv")
    with pytest.raises(StorageUnavailable, match="while looking for"):
        store.exists("datasets/1/1.csv")


class _CutShort(http.server.BaseHTTPRequestHandler):
    """A store that finds the object, then drops the connection three bytes into every download of it."""

    protocol_version = "HTTP/1.1"

    def _headers(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.send_header("ETag", '"abc"')
        self.end_headers()

    def do_HEAD(self) -> None:
        self._headers()

    def do_GET(self) -> None:
        self._headers()
        self.wfile.write(b"abc")
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cut_short_store() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutShort)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_download_the_store_keeps_cutting_short_is_the_same_clear_refusal(cut_short_store: str) -> None:
    from mlopslab.s3 import ObjectStorage

    store = ObjectStorage(bucket_name="lab", endpoint_url=cut_short_store, region_name="us-east-1",
                          access_key="k", secret_key="s")  # fmt: skip
    with pytest.raises(StorageUnavailable, match=r"while reading runs/1/model\.joblib"):
        store.open("runs/1/model.joblib")


def test_the_object_store_backend_saves_overwrites_reads_and_reports_a_missing_key() -> None:
    moto = pytest.importorskip("moto", reason="moto is a development requirement (requirements-dev.txt)")
    import boto3

    from mlopslab.s3 import ObjectStorage

    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="lab")
        store = ObjectStorage(bucket_name="lab", region_name="us-east-1", access_key="k", secret_key="s")
        assert store.save("runs/1/model.joblib", ContentFile(b"first")) == "runs/1/model.joblib"
        # The app's keys are its own: saving again under one replaces the object instead of inventing a name.
        assert store.save("runs/1/model.joblib", ContentFile(b"second")) == "runs/1/model.joblib"
        with store.open("runs/1/model.joblib", "rb") as handle:
            assert handle.read() == b"second"
        assert store.exists("runs/1/model.joblib")
        assert not store.exists("runs/2/model.joblib")
        with pytest.raises(FileNotFoundError):
            store.open("runs/2/model.joblib")
        store.delete("runs/1/model.joblib")
        assert not store.exists("runs/1/model.joblib")
