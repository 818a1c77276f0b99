"""Server time of the lesson page and the lifecycle map (issue: lesson <= 20 ms, map <= 30 ms median).

Runs against a throw-away SQLite database (or DATABASE_URL when set) with the whole
course loaded, for a learner who has progress on every node and has read every
lesson. Each request goes through Django's full middleware and template stack via
the test client, in this process; no network is involved.

    .venv/bin/python benchmarks/pages.py [--requests 300]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import statistics
import time

from _setup import django_ready, report


def measure(client: object, url: str, count: int) -> list[float]:
    for _ in range(20):  # warm caches, template loaders and connections
        client.get(url)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    django_ready()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client
    from django.utils import timezone

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
    pages = {"map": ("/map/", 30.0), "lesson": (lesson.get_absolute_url(), 20.0)}
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, requests per page: {args.requests}")
    print(f"the lesson is the longest, {lesson.word_count} words: {lesson.get_absolute_url()}")
    print(f"{'page':<28} {'median ms':>10} {'p95 ms':>8} {'target ms':>10}  result")
    figures = []
    for name, (url, target) in pages.items():
        timings = sorted(measure(client, url, args.requests))
        median = statistics.median(timings)
        p95 = timings[int(len(timings) * 0.95) - 1]
        verdict = "ok" if median <= target else "SLOWER THAN TARGET"
        print(f"{name:<28} {median:>10.2f} {p95:>8.2f} {target:>10.0f}  {verdict}")
        figures += [(f"{name} median", median), (f"{name} p95", p95)]
    for name, value in figures:
        report(name, value, "ms")


if __name__ == "__main__":
    main()
