"""The production recipe, as the README writes it, against clients that lie about or trickle their bodies.

The web server is started exactly as README's Production section says (one worker, on 127.0.0.1 and a
free port). A client that declares 5 GB and sends a few MB, one that sends a body without a length, and
one that trickles a byte at a time must each be answered or left waiting without holding that one worker:
/healthz on the same server still answers within two seconds, and nothing large lands in its temporary
folder. Last, the sign-in throttle counting in the real Redis rather than the tests' local-memory cache.
"""

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UPLOAD_PATH = "/sandbox/datasets/new/upload/"
BOUNDARY = "lab-boundary"
MB = 1024 * 1024


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    temp_dir: Path

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock

    def temp_bytes(self) -> int:
        """Bytes held in the server's temporary folder, by files listed there or open and already unlinked."""
        total = sum(path.stat().st_size for path in self.temp_dir.rglob("*") if path.is_file())
        processes = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        for process in processes:
            for handle in process.open_files():
                if handle.path.startswith(str(self.temp_dir)) and handle.path.endswith("(deleted)"):
                    total += os.stat(f"/proc/{process.pid}/fd/{handle.fd}").st_size
        return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _recipe_command(port: int) -> list[str]:
    """The web command of README's Production section, bound to 127.0.0.1:port with one worker."""
    readme = (ROOT / "README.md").read_text()
    production = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"`(\.venv/bin/gunicorn [^`]+)`", production)
    assert len(commands) == 1, "README's Production section should give exactly one gunicorn command"
    words = shlex.split(commands[0])
    for option, value in (("--bind", f"127.0.0.1:{port}"), ("--workers", "1")):
        assert option in words, f"the recipe should say {option}"
        words[words.index(option) + 1] = value
    return words


def _http(server: Server, request: bytes, *, timeout: float = 5) -> tuple[bytes, float]:
    started = time.monotonic()
    with server.connect() as sock:
        sock.settimeout(timeout)
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def _healthz(server: Server) -> tuple[bytes, float]:
    return _http(server, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")


def _upload_head(length_header: bytes) -> bytes:
    # Any well-formed CSRF cookie makes Django's CSRF middleware read the form for its token.
    return (
        f"POST {UPLOAD_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: csrftoken={'a' * 32}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n".encode()
        + length_header
        + b"\r\n"
    )


FILE_PART_START = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
).encode()


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("recipe")
    temp_dir = root / "tmp"
    temp_dir.mkdir()
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE"}},
        "DEBUG": "1",
        "SECRET_KEY": "a-test-secret-" + "k3y" * 20,
        "DATA_DIR": str(root),
        "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        "TMPDIR": str(temp_dir),
    }
    # A database of its own, migrated, so that the server's pages and health check read real tables.
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert migrate.returncode == 0, migrate.stderr
    log = (root / "server.log").open("w")
    # A session of its own, so that stopping it stops gunicorn's worker too, whatever happened to the master.
    process = subprocess.Popen(
        _recipe_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    instance = Server(port, process, temp_dir)
    deadline = time.monotonic() + 30
    while True:
        try:
            if _healthz(instance)[0].startswith(b"HTTP/1.1 200"):
                break
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("The recipe's server did not answer /healthz with 200:\n" + (root / "server.log").read_text())
        time.sleep(0.2)
    yield instance
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


def _assert_healthz_answers_quickly(server: Server) -> None:
    answer, seconds = _healthz(server)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert seconds < 2, f"/healthz took {seconds:.2f} s"


def test_a_client_declaring_5_gb_is_refused_without_holding_the_worker(server: Server) -> None:
    with server.connect() as liar:
        liar.sendall(_upload_head(f"Content-Length: {5 * 1024 * MB}\r\n".encode()) + FILE_PART_START)
        for _ in range(32):
            liar.sendall(b"x" * (64 * 1024))
        _assert_healthz_answers_quickly(server)
        assert server.temp_bytes() < MB
        liar.settimeout(5)
        assert liar.recv(65536).startswith(b"HTTP/1.1 413")


def test_a_body_without_a_length_is_cut_off_past_the_limit(server: Server) -> None:
    with server.connect() as sender:
        sender.sendall(_upload_head(b"Transfer-Encoding: chunked\r\n"))
        chunk = b"x" * (256 * 1024)
        sender.sendall(f"{len(FILE_PART_START):x}\r\n".encode() + FILE_PART_START + b"\r\n")
        sender.settimeout(0.01)
        answer = b""
        for _ in range(48):
            try:
                sender.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break
            with contextlib.suppress(TimeoutError):
                answer += sender.recv(65536)
            if answer:
                break
        sender.settimeout(5)
        while b"\r\n" not in answer:
            answer += sender.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    _assert_healthz_answers_quickly(server)
    assert server.temp_bytes() < MB


def test_a_client_trickling_its_body_holds_no_worker(server: Server) -> None:
    body = b"username=ada&password=" + b"p" * 2000
    head = (
        f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: csrftoken={'a' * 32}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with server.connect() as slow:
        slow.sendall(head)
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < 4:
            slow.sendall(body[sent : sent + 1])
            sent += 1
            if sent % 10 == 0:
                _assert_healthz_answers_quickly(server)
            time.sleep(0.05)
    _assert_healthz_answers_quickly(server)


@pytest.mark.django_db
def test_the_sign_in_throttle_counts_in_the_real_redis(
    redis_url: str, settings: object, learner: object, client: object
) -> None:
    import redis
    from django.core.cache import caches

    from mlopslab import throttle

    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.CACHES = {
        **settings.CACHES,
        throttle.CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"throttle-test-{time.monotonic_ns()}",
        },
    }
    per_account, per_address = throttle.login_limits()
    count_key, _ = throttle._keys(per_account, "ada")
    wrong = {"username": "ada", "password": "not the password"}
    try:
        for _ in range(3):
            assert client.post("/accounts/login/", wrong).status_code == 200
        stored = caches[throttle.CACHE_ALIAS].make_key(count_key)
        assert int(redis.Redis.from_url(redis_url).get(stored)) == 3
        refused = client.post("/accounts/login/", {**wrong, "password": "correct horse battery"})
        assert refused.status_code == 429
        assert 1 <= int(refused["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS
    finally:
        throttle.forget((per_account, "ada"), (per_address, "127.0.0.1"))
    assert client.post("/accounts/login/", {**wrong, "password": "correct horse battery"}).status_code == 302
