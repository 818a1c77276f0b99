from django.http import HttpRequest

from lessons.attempts import reviews_due
from lessons.selectors import is_author


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {"can_author": False, "reviews_due": 0}
    # The studio is the admin for now, which lets in staff only: the link is for those it would let in.
    can_author = user.is_staff and is_author(user)
    return {"can_author": can_author, "reviews_due": reviews_due(user=user).count()}
