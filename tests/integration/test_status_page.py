import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.integration


def test_the_status_page_lists_a_worker_that_answers(
    celery_worker: object, client: object, django_user_model: type
) -> None:
    # Worker names carry host names, which the page shows to staff only.
    client.force_login(django_user_model.objects.create_user(username="ops", password="x-ops-pass-9", is_staff=True))
    html = client.get(reverse("status")).content.decode()
    start = html.index('data-check="workers"')
    workers = html[start : html.index("</section>", start)]
    assert 'data-state="ok"' in workers
    assert re.search(r"\d+ workers? answered a ping\.", workers)
    assert re.search(r"<code>\S+@\S+", workers)
    assert "Everything answers" in html
    assert 'role="alert"' not in html
