"""Requests per second of the Lab's pages against a minimal Django page, both under gunicorn (issue 10).

Targets: each page >= 0.5x the minimal page's requests per second, and <= 10 ms median server time.

Both sites run the same way in the same run, DEBUG off, gunicorn with 2 workers of each worker class in
turn: gunicorn's sync workers on the WSGI application ("wsgi"), then the production recipe's uvicorn
workers on the ASGI application ("asgi"). Each site uses its own application object: the minimal
project the ones startproject writes, the Lab mlopslab/wsgi.py and mlopslab/asgi.py. The minimal page
is what `startproject` gives plus one view rendering one 1.4 KB template; this script writes that
project into a temporary folder. The Lab runs on a throw-away database (SQLite, or
DATABASE_URL when set) holding the whole course, for a signed-in learner who has read every lesson,
completed every stage and has a quiz in progress: the pages are the map, the longest lesson, the
glossary, that lesson's stage's quiz page, and the quiz in progress with all its questions.

Load comes from wrk (Debian's package `wrk`) on loopback: `-t1 -c8` for throughput, then `-c1` for the
median time of one request with nothing queued before it. Worker CPU per request is read from the
gunicorn workers' own CPU time. The minimal page is measured first and last; its mean is the baseline.

    .venv/bin/python benchmarks/pages.py [--duration 8] [--server asgi|wsgi|both]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _setup import ROOT, django_ready, report

SECRET_KEY = "benchmark-secret-key-that-is-long-enough-for-django-checks"
WORKER_CLASSES = {"asgi": "uvicorn_worker.UvicornWorker", "wsgi": "sync"}
MINIMAL_TEMPLATE = (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{{ title }}</title>\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n</head>\n<body>\n'
    '<header><nav><a href="/">Home</a> <a href="/about/">About</a></nav></header>\n<main>\n'
    "<h1>{{ title }}</h1>\n"
    + "{% for item in items %}<p>{{ forloop.counter }}. {{ item }}, a line of text that fills the page "
    "the way a short article would.</p>\n{% endfor %}\n</main>\n<footer>A minimal page.</footer>\n</body>\n</html>\n"
)
MINIMAL_SETTINGS = """
SECRET_KEY = "minimal-benchmark-key"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "minimal.urls"
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [__import__("pathlib").Path(__file__).parent / "templates"],
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
STATIC_URL = "static/"
USE_TZ = True
"""
MINIMAL_URLS = """
from django.shortcuts import render
from django.urls import path


def page(request):
    items = [f"item {n}" for n in range(12)]
    return render(request, "page.html", {"title": "A minimal page", "items": items})


urlpatterns = [path("", page)]
"""
MINIMAL_WSGI = """
import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minimal.settings")
application = get_wsgi_application()
"""
MINIMAL_ASGI = MINIMAL_WSGI.replace("wsgi", "asgi").replace("WSGI", "ASGI")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_minimal_project(folder: Path) -> None:
    package = folder / "minimal"
    (package / "templates").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(MINIMAL_SETTINGS)
    (package / "urls.py").write_text(MINIMAL_URLS)
    (package / "wsgi.py").write_text(MINIMAL_WSGI)
    (package / "asgi.py").write_text(MINIMAL_ASGI)
    (package / "templates" / "page.html").write_text(MINIMAL_TEMPLATE)


class Server:
    """gunicorn with two workers on a free port, stopped (and its workers with it) on exit."""

    def __init__(self, app: str, cwd: Path, env: dict, worker_class: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            app,
            "--worker-class",
            worker_class,
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--no-control-socket",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)

    def wait_ready(self, path: str, cookie: str = "") -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}")
            try:
                request = urllib.request.Request(self.base + path, headers={"Cookie": cookie} if cookie else {})
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{self.base}{path} did not answer 200 within 60 s")

    def worker_cpu(self) -> float:
        """CPU seconds used so far by the gunicorn workers (the children of the arbiter)."""
        import psutil

        return sum(sum(child.cpu_times()[:2]) for child in psutil.Process(self.process.pid).children())

    def worker_memory(self) -> float:
        """The largest resident set of the gunicorn workers, in MB."""
        import psutil

        return max(child.memory_info().rss for child in psutil.Process(self.process.pid).children()) / 1e6

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def wrk(url: str, *, connections: int, seconds: int, cookie: str) -> tuple[float, float, int]:
    """(requests per second, median latency in ms, requests) of one wrk run; refuses any non-2xx answer."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, seconds)}s", "--latency", "--timeout", "10s", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw failed requests on {url}:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    value, unit = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", output).groups()
    median_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, median_ms, requests


def measure(server: Server, path: str, *, seconds: int, cookie: str = "") -> dict:
    url = server.base + path
    wrk(url, connections=8, seconds=1, cookie=cookie)  # warm both workers' caches and connections
    cpu_before = server.worker_cpu()
    rate, _, requests = wrk(url, connections=8, seconds=seconds, cookie=cookie)
    cpu_ms = (server.worker_cpu() - cpu_before) * 1000 / requests
    _, median_ms, _ = wrk(url, connections=1, seconds=max(2, seconds // 3), cookie=cookie)
    return {"rate": rate, "median": median_ms, "cpu": cpu_ms}


def build_learner() -> tuple[str, dict[str, str]]:
    """A learner with progress everywhere and a quiz under way: their session cookie and the pages to load."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django.utils import timezone

    from lessons import attempts
    from lessons.models import Lesson, LessonRead, Node, NodeProgress
    from lessons.services import content_sync

    content_sync()
    learner, _ = User.objects.get_or_create(username="bench-learner")
    for node in Node.objects.all():
        NodeProgress.objects.update_or_create(user=learner, node=node, defaults={"completed_at": timezone.now()})
    for lesson in Lesson.objects.all():
        LessonRead.objects.get_or_create(user=learner, lesson=lesson)
    client = Client()
    client.force_login(learner)
    lesson = Lesson.objects.select_related("node").order_by("-word_count").first()
    node = lesson.node
    attempt = attempts.attempt_start_node(user=learner, node=node)
    pages = {
        "map": "/map/",
        "lesson": lesson.get_absolute_url(),
        "glossary": "/glossary/",
        "quiz": f"/map/{node.slug}/quiz/",
        "quiz attempt": f"/quiz/{attempt.pk}/",
    }
    for name, path in pages.items():
        status = client.get(path).status_code
        assert status == 200, (name, path, status)
    return f"sessionid={client.cookies['sessionid'].value}", pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per page (default 8)")
    parser.add_argument("--server", choices=[*sorted(WORKER_CLASSES), "both"], default="both")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian's package).")

    # The server must read the session this process signs for the learner.
    os.environ["SECRET_KEY"] = SECRET_KEY
    data_dir = django_ready()
    from django.conf import settings

    cookie, pages = build_learner()
    work = Path(tempfile.mkdtemp(prefix="mlopslab-pages-"))
    write_minimal_project(work)
    static_root = work / "static"
    lab_env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "DATA_DIR": str(data_dir),
        "STATIC_ROOT": str(static_root),
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=lab_env, check=True
    )
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    modes = sorted(WORKER_CLASSES) if args.server == "both" else [args.server]
    try:
        for mode in modes:
            run_mode(mode, work, lab_env, pages, cookie, seconds=args.duration, database=database)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_mode(mode: str, work: Path, lab_env: dict, pages: dict, cookie: str, *, seconds: int, database: str) -> None:
    """Serve both sites with one worker class, load each page, and print the figures under that mode's name."""
    worker_class = WORKER_CLASSES[mode]
    minimal_env = {**os.environ, "PYTHONPATH": str(work), "DJANGO_SETTINGS_MODULE": "minimal.settings"}
    minimal = Server(f"minimal.{mode}:application", work, minimal_env, worker_class)
    lab = Server(f"mlopslab.{mode}:application", ROOT, lab_env, worker_class)
    results: dict[str, dict] = {}
    try:
        minimal.wait_ready("/")
        lab.wait_ready(pages["map"], cookie)
        print(f"\n{mode}: gunicorn, 2 {worker_class} workers; database: {database}; {seconds} s of load per page")
        baseline = [measure(minimal, "/", seconds=seconds)]
        for name, path in pages.items():
            results[name] = measure(lab, path, seconds=seconds, cookie=cookie)
        baseline.append(measure(minimal, "/", seconds=seconds))
        memory = {"minimal": minimal.worker_memory(), "lab": lab.worker_memory()}
    finally:
        lab.stop()
        minimal.stop()
    base = {key: sum(b[key] for b in baseline) / len(baseline) for key in ("rate", "median", "cpu")}
    print(f"{'page':<13} {'req/s':>8} {'vs minimal':>11} {'median ms':>10} {'CPU ms/req':>11}  result")
    print(f"{'minimal':<13} {base['rate']:>8.0f} {1:>10.2f}x {base['median']:>10.2f} {base['cpu']:>11.2f}")
    for name, figures in results.items():
        ratio = figures["rate"] / base["rate"]
        verdict = "ok" if ratio >= 0.5 and figures["median"] <= 10 else "BELOW TARGET"
        print(
            f"{name:<13} {figures['rate']:>8.0f} {ratio:>10.2f}x {figures['median']:>10.2f} {figures['cpu']:>11.2f}"
            f"  {verdict}"
        )
    print(f"worker memory after the run: minimal {memory['minimal']:.0f} MB, Lab {memory['lab']:.0f} MB")
    report(f"{mode} minimal worker memory", memory["minimal"], "MB")
    report(f"{mode} lab worker memory", memory["lab"], "MB")
    report(f"{mode} minimal page req/s", base["rate"], "req/s")
    report(f"{mode} minimal page median", base["median"], "ms")
    report(f"{mode} minimal page worker CPU", base["cpu"], "ms/req")
    for name, figures in results.items():
        report(f"{mode} {name} req/s", figures["rate"], "req/s")
        report(f"{mode} {name} req/s vs minimal django", figures["rate"] / base["rate"], "x", digits=2)
        report(f"{mode} {name} median", figures["median"], "ms")
        report(f"{mode} {name} worker CPU", figures["cpu"], "ms/req")


if __name__ == "__main__":
    main()
