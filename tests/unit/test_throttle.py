"""Sign-in and sign-up throttling, per account and per client address, and blank passwords.

The counters are in a local-memory cache here (tests/conftest.py empties it before each test); the
throttle's own logic is what is under test. tests/integration/test_request_limits.py runs it on Redis.
"""

import time
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from mlopslab import throttle

pytestmark = pytest.mark.django_db
WRONG = {"username": "ada", "password": "not the password"}
RIGHT = {"username": "ada", "password": "correct horse battery"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Stops the wall clock (the throttle's windows and the cache's expiry alike), then moves it only when told:
    on a busy machine the attempts themselves take seconds, which would shorten the waits the tests read."""
    offset = [0.0]
    stopped = time.time()
    monkeypatch.setattr(time, "time", lambda: stopped + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


def _client(address: str = "203.0.113.7") -> Client:
    return Client(REMOTE_ADDR=address, raise_request_exception=False)


def _throttled(response: object) -> int:
    """The wait the response announces, checked to agree between the header and the sentence."""
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert f"Too many attempts; try again in {wait} seconds." in response.content.decode()
    return wait


def test_the_tenth_failed_login_for_an_account_is_the_last_one_answered(
    learner: User, clock: Callable[[float], None]
) -> None:
    client = _client()
    for _ in range(10):
        response = client.post(reverse("login"), WRONG)
        assert response.status_code == 200
        assert b"Please enter a correct username and password" in response.content
    wait = _throttled(client.post(reverse("login"), WRONG))
    assert 890 <= wait <= 900
    # While refused, even the right password is not tried: a guesser learns nothing.
    assert _throttled(client.post(reverse("login"), RIGHT)) <= wait
    assert "_auth_user_id" not in client.session

    clock(600)
    assert 290 <= _throttled(client.post(reverse("login"), RIGHT)) <= 300
    clock(301)
    assert client.post(reverse("login"), RIGHT).status_code == 302


def test_the_account_limit_holds_from_every_address(learner: User, settings: object) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        assert _client(address).post(reverse("login"), WRONG).status_code == 200
    _throttled(_client("198.51.100.4").post(reverse("login"), RIGHT))


def test_signing_in_forgives_the_accounts_earlier_mistakes(learner: User, settings: object) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    client = _client()
    for _ in range(2):
        client.post(reverse("login"), WRONG)
    assert client.post(reverse("login"), RIGHT).status_code == 302
    client.post(reverse("logout"))
    for _ in range(3):
        assert client.post(reverse("login"), WRONG).status_code == 200
    _throttled(client.post(reverse("login"), WRONG))


def test_one_address_guessing_many_accounts_is_stopped_and_others_are_not(learner: User, settings: object) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 4
    guesser = _client("192.0.2.50")
    for name in ("alan", "barbara", "claude", "donald"):
        assert guesser.post(reverse("login"), {"username": name, "password": "guess"}).status_code == 200
    _throttled(guesser.post(reverse("login"), {"username": "edsger", "password": "guess"}))
    _throttled(guesser.post(reverse("login"), RIGHT))
    assert _client("192.0.2.51").post(reverse("login"), RIGHT).status_code == 302


def test_the_admin_login_is_throttled_alike(settings: object, django_user_model: type) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    django_user_model.objects.create_user(username="root", password="a staff passphrase", is_staff=True)
    client = _client()
    form = {"username": "root", "password": "wrong", "next": "/admin/"}
    for _ in range(2):
        response = client.post(reverse("admin:login"), form)
        assert response.status_code == 200
        assert b"Please enter the correct username and password for a staff account" in response.content
    _throttled(client.post(reverse("admin:login"), {**form, "password": "a staff passphrase"}))
    assert client.get("/admin/").status_code == 302


def test_an_address_may_sign_up_five_times_an_hour(clock: Callable[[float], None]) -> None:
    client = _client()

    def sign_up(name: str, address: str = "203.0.113.7") -> object:
        passphrase = "a long passphrase 42"
        form = {"username": name, "email": "", "password1": passphrase, "password2": passphrase}
        return _client(address).post(reverse("signup"), form)

    for number in range(5):
        assert sign_up(f"learner{number}").status_code == 302
    wait = _throttled(sign_up("learner5"))
    assert 3590 <= wait <= 3600
    assert not User.objects.filter(username="learner5").exists()
    assert sign_up("learner5", address="203.0.113.8").status_code == 302

    clock(3601)
    assert sign_up("learner6").status_code == 302
    assert client.get(reverse("signup")).status_code == 200


def test_with_the_throttle_cache_down_attempts_are_allowed_and_logged(
    learner: User, settings: object, closed_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    settings.CACHES = {
        **settings.CACHES,
        throttle.CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": closed_redis_url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    client = _client()
    started = time.monotonic()
    for _ in range(4):
        assert client.post(reverse("login"), WRONG).status_code == 200
    assert client.post(reverse("login"), RIGHT).status_code == 302
    assert time.monotonic() - started < 10
    warnings = [r for r in caplog.records if "throttle cache does not answer" in r.getMessage()]
    # Once, not once per counter: after a failure the cache is left alone for a few seconds.
    assert len(warnings) == 1


def test_a_window_that_closes_between_counting_calls_opens_the_next(
    settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = throttle.Limit("test", attempts=2, window=60)
    throttle.record((limit, "k"))
    cache = caches[throttle.CACHE_ALIAS]
    count_key, _ = throttle._keys(limit, "k")

    def expired_meanwhile(key: str, delta: int = 1) -> int:
        cache.delete(key)
        raise ValueError(f"Key '{key}' not found.")

    monkeypatch.setattr(cache, "incr", expired_meanwhile)
    throttle.record((limit, "k"))
    assert cache.get(count_key) == 1
    assert throttle.seconds_to_wait((limit, "k")) == 0


@pytest.mark.parametrize(
    ("remote", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.3", "198.51.100.3"),
        ("", "unknown"),
    ],
)
def test_clients_are_counted_by_address_and_ipv6_by_its_64(remote: str, counted_as: str) -> None:
    from django.test import RequestFactory

    assert throttle.client_address(RequestFactory().get("/", REMOTE_ADDR=remote)) == counted_as


@pytest.mark.parametrize("blank", [" " * 8, " " * 12, "\t \u00a0 \n  \u2003  "])
def test_a_password_of_only_spaces_is_refused_at_sign_up(blank: str) -> None:
    form = {"username": "newbie", "email": "", "password1": blank, "password2": blank}
    response = _client().post(reverse("signup"), form)
    assert response.status_code == 200
    assert b"This password is only spaces." in response.content
    assert not User.objects.exists()


def test_a_password_of_only_spaces_is_refused_as_a_new_password(learner: User) -> None:
    client = _client()
    client.force_login(learner)
    blank = " " * 10
    form = {"old_password": "correct horse battery", "new_password1": blank, "new_password2": blank}
    response = client.post(reverse("password_change"), form)
    assert b"This password is only spaces." in response.content
    learner.refresh_from_db()
    assert learner.check_password("correct horse battery")


def test_a_password_with_spaces_in_it_is_still_welcome() -> None:
    passphrase = "  correct horse  "
    form = {"username": "newbie", "email": "", "password1": passphrase, "password2": passphrase}
    assert _client().post(reverse("signup"), form).status_code == 302
    assert User.objects.get(username="newbie").check_password(passphrase)
