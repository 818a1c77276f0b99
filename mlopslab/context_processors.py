from django.http import HttpRequest

from lessons.selectors import learner_standing


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {"can_author": False, "reviews_due": 0}
    # One query for both, shared with whatever else the page asks of the learner's standing.
    standing = learner_standing(user)
    return {"can_author": standing.author, "reviews_due": standing.reviews_due}
