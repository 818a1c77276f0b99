from django.http import HttpRequest

AUTHOR_PERMISSION = "lessons.author_content"


def navigation(request: HttpRequest) -> dict[str, bool]:
    user = getattr(request, "user", None)
    return {"can_author": bool(user and user.is_authenticated and user.has_perm(AUTHOR_PERMISSION))}
