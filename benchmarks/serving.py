"""One-row predictions per second: the Lab's endpoint against `mlflow models serve`, side by side (issue 11).

Targets: the Lab >= 8x MLflow's requests per second with the same number of workers, and <= 5 ms median for
one request with nothing queued before it.

The model is one fitted pipeline, StandardScaler + LogisticRegression on breast_cancer, built through the
Lab's real services and a real Celery worker (prefork, DEBUG off) over a private Redis and a throw-away
database: a learner, their copy of the dataset, a run trained on the worker, its registered version (with
`challenger` pointed at it), a single deployment deployed by the worker's deploy job, and an API token.

- The Lab serves it with the production recipe: gunicorn with W uvicorn workers on `mlopslab.asgi`, DEBUG off,
  every request authenticated by the bearer token, its values checked against the version's signature, and
  logged as a prediction.
- MLflow serves the very same pipeline file (its SHA-256 checked), saved by `mlflow.sklearn.save_model` in the
  peer environment (scripts/peer_env.py's `mlflow`), twice (benchmarks/_mlflow_save.py):
  with `save_model`'s defaults, which give no signature, so that MLflow's server checks no schema (the
  target's ratio is against this one), and with the version's own input signature, so that it enforces the
  schema the Lab enforces. Each is `mlflow models serve -m <dir> --env-manager local -w W`, with the peer
  environment's bin/ first on PATH for its uvicorn.

All listen on 127.0.0.1 only. Before any load each answers one request, and all must predict the same.
Load comes from wrk (Debian's package `wrk`), POSTing one `dataframe_split` row as JSON through a Lua script
that also counts every answer that is not 200 (any one stops the benchmark): `-t1 -c<C>` for requests per
second, then `-c1` for the median time of one request. The servers take turns, twice over, and each
figure is the mean of its two turns, so load from other work on the machine falls on all alike. Worker CPU
per request is read from each server's processes' CPU time. Last, the Lab's requests are timed inside this
process through Django's test client, and split into reading the request against the signature, the
pipeline's predict, the request log's insert and the rest, to show where a request's time goes.

    .venv/bin/python benchmarks/serving.py [--workers 2] [--duration 10] [--connections 8]
    .venv/bin/python benchmarks/serving.py --serve-only [--port 8001] [--workers 2]

`--serve-only` builds the same deployment, serves it under gunicorn, prints
`ENDPOINT <invocations URL> TOKEN <token>` on one line, and serves until interrupted (Ctrl-C).

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _lab import (
    HERE,
    ROOT,
    Processes,
    free_port,
    lab_env,
    lab_lifecycle,
    learner_with_breast_cancer,
    peer_python,
    private_redis,
    start_worker,
    worker_log,
)

ENDPOINT = "bench-serving"
# Counts every answer that is not 200 (wrk itself counts only statuses from 400 up) and prints the first.
LUA = r"""
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
%(headers)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; first = "" end
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if first == "" then first = status .. " " .. string.sub(body, 1, 300) end
  end
end
function done(summary, latency, requests)
  local total, example = 0, ""
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
    if example == "" then example = thread:get("first") end
  end
  io.write(string.format("NON200 %%d %%s\n", total, example))
end
"""


class Server:
    """One HTTP server process tree on 127.0.0.1, with what wrk needs to load it."""

    def __init__(self, name: str, processes: Processes, command: list[str], *, url: str, ping: str, **options) -> None:
        self.name, self.url, self.ping = name, url, ping
        self.headers: dict[str, str] = {}
        self.process = processes.start(command, **options)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name}'s server exited with {self.process.returncode}")
            try:
                request = urllib.request.Request(self.ping, headers=self.headers)
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{self.ping} did not answer 200 within {timeout:.0f} s")

    def post(self, body: bytes) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json", **self.headers}
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, {"body": error.read().decode(errors="replace")[:500]}

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server's processes below the one started (its workers)."""
        import psutil

        total = 0.0
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):  # a process that just ended
                total += sum(child.cpu_times()[:2])
        return total


def wrk(server: Server, script: Path, *, connections: int, seconds: int) -> tuple[float, float, int]:
    """(requests per second, median latency in ms, requests) of one wrk run; stops on any answer but 200."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, seconds)}s", "--latency", "--timeout", "10s",
               "-s", str(script), server.url]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    bad = re.search(r"^NON200 (\d+) ?(.*)$", output, re.MULTILINE)
    if bad is None or int(bad.group(1)) or "Socket errors" in output:
        raise SystemExit(f"wrk saw failed requests on {server.name}'s {server.url}:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    value, unit = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", output).groups()
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], requests


def lua_script(folder: Path, server: Server, body: bytes) -> Path:
    headers = "\n".join(f'wrk.headers["{key}"] = "{value}"' for key, value in server.headers.items())
    script = folder / f"{server.name.lower().replace(' ', '-')}.lua"
    script.write_text(LUA % {"body": body.decode(), "headers": headers})
    return script


def lab_deployment(username: str) -> tuple[object, object, str, bytes]:
    """The whole path a learner takes to an endpoint, through the services and the worker.

    Returns (the registered version, the deployment, the API token, one row of the data as a
    `dataframe_split` request body).
    """
    from sandbox.datasets.selectors import version_frame
    from sandbox.serving.models import Deployment
    from sandbox.serving.services import api_token_create, deployment_create

    learner, data_version, experiment = learner_with_breast_cancer(username)
    model_version, _ = lab_lifecycle(learner, data_version, experiment)
    deployment = deployment_create(
        owner=learner, name=ENDPOINT, registered_model=model_version.registered_model, version=model_version
    )
    deadline = time.monotonic() + 120
    while True:
        deployment.refresh_from_db()
        if deployment.status != Deployment.Status.PENDING:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the deployment was still deploying after 120 s; see {worker_log()}")
        time.sleep(0.05)
    if deployment.status != Deployment.Status.LIVE:
        release = deployment.releases.order_by("-number").first()
        raise SystemExit(f"the deployment failed: {release.error if release else '?'} (see {worker_log()})")
    _, token = api_token_create(owner=learner, name="benchmark")
    frame = version_frame(data_version).drop(columns=[data_version.dataset.target])
    row = frame.iloc[0]
    body = {"dataframe_split": {"columns": list(frame.columns), "data": [[float(value) for value in row]]}}
    return model_version, deployment, token, json.dumps(body).encode()


def lab_server(processes: Processes, env: dict[str, str], *, workers: int, port: int, token: str) -> Server:
    """The production recipe: gunicorn with uvicorn workers on the ASGI application, DEBUG off."""
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "mlopslab.asgi:application",
               "--worker-class", "uvicorn_worker.UvicornWorker", "--workers", str(workers),
               "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning"]  # fmt: skip
    base = f"http://127.0.0.1:{port}/serve/{ENDPOINT}"
    server = Server("Lab", processes, command, url=f"{base}/invocations", ping=f"{base}/ping", cwd=ROOT, env=env)
    server.headers = {"Authorization": f"Bearer {token}"}
    return server


def mlflow_servers(processes: Processes, model_version: object, folder: Path, *, workers: int) -> list[Server]:
    """`mlflow models serve` of the version's pipeline file, saved in the peer environment with
    `save_model`'s defaults and, beside it, with the version's signature (benchmarks/_mlflow_save.py)."""
    from django.core.files.storage import default_storage

    with default_storage.open(model_version.model_file, "rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != model_version.model_sha256:
        raise SystemExit("the version's model file does not match its SHA-256")
    (folder / "model.joblib").write_bytes(content)
    (folder / "signature.json").write_text(json.dumps(model_version.signature))
    python = peer_python()
    peer_env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}  # fmt: skip
    saved = folder / "mlflow-models"
    subprocess.run(
        [str(python), str(HERE / "_mlflow_save.py"), str(folder / "model.joblib"), model_version.model_sha256,
         str(folder / "signature.json"), str(saved)],
        env=peer_env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    servers = []
    for name, model_dir in (("MLflow", saved / "defaults"), ("MLflow with signature", saved / "with-signature")):
        port = free_port()
        command = [str(python.parent / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager",
                   "local", "-w", str(workers), "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
        log = (folder / f"{model_dir.name}-serve.log").open("w")
        base = f"http://127.0.0.1:{port}"
        server = Server(
            name, processes, command, url=f"{base}/invocations", ping=f"{base}/ping",
            env=peer_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        servers.append(server)
    return servers


def in_process_split(token: str, body: bytes, count: int) -> tuple[float, float, dict[str, float]]:
    """Where one request's time goes inside the Lab's process, with no HTTP in between.

    Returns the median of `count` requests through the lane's synchronous part
    (`sandbox.serving.lane._answer`, what a uvicorn worker runs for each token-authenticated prediction once it
    has read the body), the median through Django's test client (the whole request cycle and the view, as a
    session's caller is served), and, for the lane, each part's share of its total: `parse` (the request read
    against the signature), `predict`, `log` (writing the request log: here flushed in this thread after every
    50 requests, as the background thread does in a server) and `rest` (the request signals, finding the
    deployment and its token, building the answer). Timed by wrapping the functions, whatever calls them."""
    import statistics

    from django.test import Client

    from sandbox.serving import endpoint, lane, request_log

    spent = {"parse": 0.0, "predict": 0.0, "log": 0.0}

    def timed(part: str, function: object) -> object:
        def wrapper(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - started

        return wrapper

    batched = request_log.BatchedLog(every=3600)
    request_log.batched = batched
    header = f"Bearer {token}"
    scope = {"path": f"/serve/{ENDPOINT}/invocations"}

    def answer(at: int) -> float:
        started = time.perf_counter()
        status = lane._answer(scope, ENDPOINT, header, body, "application/json", started).status_code
        if at % 50 == 49:
            batched.flush()
        if status != 200:
            raise SystemExit(f"the in-process request answered {status}")
        return time.perf_counter() - started

    client = Client(HTTP_AUTHORIZATION=header)

    def post() -> float:
        started = time.perf_counter()
        status = client.post(scope["path"], body, content_type="application/json").status_code
        if status != 200:
            raise SystemExit(f"the in-process request through Django answered {status}")
        return time.perf_counter() - started

    for at in range(50):  # load the model into this process and warm its caches
        answer(at)
        post()
    view = statistics.median(post() for _ in range(count))
    originals = endpoint._parse, endpoint._predict, request_log.write
    endpoint._parse = timed("parse", originals[0])
    endpoint._predict = timed("predict", originals[1])
    request_log.write = timed("log", originals[2])
    try:
        times = [answer(at) for at in range(count)]
        batched.flush()
    finally:
        endpoint._parse, endpoint._predict, request_log.write = originals
    if spent["log"] == 0:
        raise SystemExit("no request wrote to the request log: is it on?")
    total = sum(times)
    spent["rest"] = total - sum(spent.values())
    return statistics.median(times), view, {part: seconds / total for part, seconds in spent.items()}


def collect_static(env: dict[str, str]) -> None:
    """DEBUG off serves hashed static files, which need their manifest (the pages of --serve-only)."""
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="web workers of each server (default 2)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each throughput turn (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections for throughput (default 8)")
    parser.add_argument("--serve-only", action="store_true", help="build the deployment, print it, and serve")
    parser.add_argument("--port", type=int, default=0, help="the Lab's port under --serve-only (default: a free one)")
    args = parser.parse_args()
    for name in ("workers", "duration", "connections"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not args.serve_only and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian's package).")
    # Stopped by a signal, the processes started are stopped too (Processes' exit); SIGINT is Ctrl-C even when
    # a shell started this in the background, which ignores it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with Processes() as processes:
        redis_url = private_redis(processes)
        os.environ["REDIS_URL"] = redis_url
        from _setup import django_ready

        data_dir = django_ready()
        folder = Path(tempfile.mkdtemp(prefix="mlopslab-bench-serving-"))
        env = {**lab_env(data_dir, redis_url), "STATIC_ROOT": str(folder / "static")}
        (folder / "static").mkdir()
        start_worker(processes, env)
        model_version, _, token, body = lab_deployment("bench-serving")
        if args.serve_only:
            serve_only(processes, env, workers=args.workers, port=args.port or free_port(), token=token)
            return
        lab = lab_server(processes, env, workers=args.workers, port=free_port(), token=token)
        peers = mlflow_servers(processes, model_version, folder, workers=args.workers)
        measure([*peers, lab], token, body, folder, args)


def serve_only(processes: Processes, env: dict[str, str], *, workers: int, port: int, token: str) -> None:
    collect_static(env)
    lab = lab_server(processes, env, workers=workers, port=port, token=token)
    lab.wait_ready()
    print(f"ENDPOINT {lab.url} TOKEN {token}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the serving; Processes stops the rest
        lab.process.wait()


def measure(servers: list[Server], token: str, body: bytes, folder: Path, args: argparse.Namespace) -> None:
    """Load each server in turn, twice over; print each one's figures and the Lab's ratios to MLflow's."""
    from _setup import report
    from django.conf import settings

    from sandbox.serving.models import PredictionLog

    for server in servers:
        server.wait_ready()
    answers = {server.name: server.post(body) for server in servers}
    for name, (status, answer) in answers.items():
        if status != 200 or "predictions" not in answer:
            raise SystemExit(f"{name} answered {status}: {answer}")
    if len({json.dumps(answer["predictions"]) for _, answer in answers.values()}) != 1:
        raise SystemExit(f"the servers predict differently: {answers}")
    scripts = {server.name: lua_script(folder, server, body) for server in servers}
    logged_before = PredictionLog.objects.count()
    figures = {server.name: {"rate": [], "median": [], "cpu": []} for server in servers}
    lab_requests = 0
    for server in servers:  # warm every worker of each
        wrk(server, scripts[server.name], connections=args.connections, seconds=2)
    for _ in range(2):
        for server in servers:
            cpu_before = server.cpu_seconds()
            rate, _, requests = wrk(server, scripts[server.name], connections=args.connections, seconds=args.duration)
            figures[server.name]["cpu"].append((server.cpu_seconds() - cpu_before) * 1000 / requests)
            figures[server.name]["rate"].append(rate)
            lab_requests += requests if server.name == "Lab" else 0
        for server in servers:
            _, median, requests = wrk(server, scripts[server.name], connections=1, seconds=max(3, args.duration // 2))
            figures[server.name]["median"].append(median)
            lab_requests += requests if server.name == "Lab" else 0
    # The workers write the log in batches a few times a second: the last rows land within that.
    deadline = time.monotonic() + 5
    while (logged := PredictionLog.objects.count() - logged_before) < lab_requests and time.monotonic() < deadline:
        time.sleep(0.1)
    mean = {name: {key: sum(values) / len(values) for key, values in parts.items()} for name, parts in figures.items()}
    lab = mean["Lab"]
    ratios = {name: lab["rate"] / parts["rate"] for name, parts in mean.items() if name != "Lab"}
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"\none-row dataframe_split predictions, {args.workers} workers each, database {database}; "
        f"wrk -t1 -c{args.connections} for {args.duration} s, then -c1; two turns each, taking turns"
    )
    print(f"{'server':<22} {'req/s':>8} {'median ms (-c1)':>16} {'CPU ms/req':>11} {'Lab is':>8}")
    for name, parts in mean.items():
        shown = f"{ratios[name]:.1f}x" if name in ratios else ""
        print(f"{name:<22} {parts['rate']:>8.0f} {parts['median']:>16.2f} {parts['cpu']:>11.2f} {shown:>8}")
    verdict = "ok" if ratios["MLflow"] >= 8 and lab["median"] <= 5 else "BELOW TARGET"
    print(f"target: 8x MLflow's req/s and one row <= 5 ms: {verdict}")
    print(f"prediction log: {logged} rows written for {lab_requests} requests wrk counted as answered")
    if logged < lab_requests:
        raise SystemExit("the Lab logged fewer predictions than it answered")
    median, view, shares = in_process_split(token, body, count=300)
    print(
        f"Lab in-process (no HTTP), median {median * 1000:.2f} ms a request through the lane: "
        + ", ".join(f"{part} {share * 100:.0f} %" for part, share in shares.items())
        + f"; {view * 1000:.2f} ms through Django's request cycle (the session's way)"
    )
    for name, parts in mean.items():
        key = name.lower()
        report(f"serving {key} req/s", parts["rate"], "req/s")
        report(f"serving {key} one-row median", parts["median"], "ms", digits=2)
        report(f"serving {key} worker CPU", parts["cpu"], "ms/req", digits=2)
    report("serving req/s vs mlflow", ratios["MLflow"], "x")
    report("serving req/s vs mlflow with signature", ratios["MLflow with signature"], "x")
    report("serving lab in-process median", median * 1000, "ms", digits=2)
    report("serving lab in-process median through django", view * 1000, "ms", digits=2)
    for part, share in shares.items():
        report(f"serving lab in-process {part} share", share * 100, "%")


if __name__ == "__main__":
    main()
