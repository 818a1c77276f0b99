from django.http import HttpRequest

from lessons.attempts import reviews_due
from lessons.selectors import AUTHOR_PERMISSION


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {"can_author": False, "reviews_due": 0}
    return {"can_author": user.has_perm(AUTHOR_PERMISSION), "reviews_due": reviews_due(user=user).count()}
