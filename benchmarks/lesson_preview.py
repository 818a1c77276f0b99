"""Server time of the lesson editor's live preview for a 1,500-word lesson (issue 13: <= 50 ms median).

A throw-away SQLite database (or DATABASE_URL) gets the course from lessons/content and an instructor. The lesson
previewed is a real one ("Rolling out a new model safely", links, glossary terms, code and a table) with
paragraphs of the stage's next lesson added until it renders to at least 1,500 words, posted as the editor's
htmx request posts it after a keystroke, through Django's full stack with the test client, signed in as the
instructor. Each run changes one word, as typing does, so nothing is served from a cache a real keystroke would
miss. A few runs warm up, then `--runs` are timed; the median is the figure, with the 95th percentile beside it.

    .venv/bin/python benchmarks/lesson_preview.py [--runs 50]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`. `measure_preview(runs)` returns the same
figures for a script that measures several pages in one process.
"""

import argparse
import statistics
import time

from _setup import django_ready, report

WORDS = 1500
LESSON = ("deployment", "rollout-strategies")
MORE = ("deployment", "containers-and-rest")


def _body() -> tuple[str, int]:
    """The lesson's body with paragraphs of the next one added until it renders to WORDS words or more."""
    from lessons.models import Lesson
    from lessons.rendering import render_markdown

    body = Lesson.objects.get(node__slug=LESSON[0], slug=LESSON[1]).source
    more = Lesson.objects.get(node__slug=MORE[0], slug=MORE[1]).source.split("\n\n")
    words = render_markdown(body).word_count
    while words < WORDS and more:
        body = body.rstrip("\n") + "\n\n" + more.pop(0).strip("\n") + "\n"
        words = render_markdown(body).word_count
    return body, words


def measure_preview(runs: int = 50) -> dict[str, float]:
    """Median, 95th percentile, fastest and slowest milliseconds of the preview, and the lesson's words."""
    from django.apps import apps

    if not apps.ready:
        django_ready()
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.urls import reverse

    from lessons.models import Lesson
    from lessons.services import content_sync

    content_sync()
    instructor, _ = User.objects.get_or_create(username="preview-instructor")
    instructor.groups.add(Group.objects.get(name="Instructors"))
    client = Client()
    client.force_login(instructor)
    lesson = Lesson.objects.get(node__slug=LESSON[0], slug=LESSON[1])
    body, words = _body()
    url = reverse("studio:lesson_preview")
    fields = {"node": LESSON[0], "slug": LESSON[1], "title": lesson.title, "order": lesson.order}

    def preview(n: int) -> float:
        posted = {**fields, "body": body.replace("A new", f"A new{' very' * (n % 7)}", 1)}
        started = time.perf_counter()
        response = client.post(url, posted, HTTP_HX_REQUEST="true")
        took = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        assert b"no problems" in response.content, response.content[:2000]
        return took

    for n in range(5):
        preview(n)
    timings = [preview(n) for n in range(runs)]
    p95 = statistics.quantiles(timings, n=20, method="inclusive")[18] if runs > 1 else timings[0]
    return {
        "median_ms": statistics.median(timings),
        "p95_ms": p95,
        "min_ms": min(timings),
        "max_ms": max(timings),
        "words": float(words),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed previews")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    django_ready()
    from django.conf import settings

    figures = measure_preview(args.runs)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"database: {engine}; a lesson of {figures['words']:.0f} words, {args.runs} previews: "
        f"min {figures['min_ms']:.1f} ms, max {figures['max_ms']:.1f} ms"
    )
    report("lesson preview 1500 words median", figures["median_ms"], "ms")
    report("lesson preview 1500 words p95", figures["p95_ms"], "ms")


if __name__ == "__main__":
    main()
