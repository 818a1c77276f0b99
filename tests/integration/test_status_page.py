import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.integration


def test_the_status_page_lists_a_worker_that_answers(celery_worker: object, client: object) -> None:
    html = client.get(reverse("status")).content.decode()
    start = html.index('data-check="workers"')
    workers = html[start : html.index("</section>", start)]
    assert 'data-state="ok"' in workers
    assert re.search(r"\d+ workers? answered a ping: \S+@\S+", workers)
    assert "Everything answers" in html
    assert 'role="alert"' not in html
