"""The inbox of notifications and the presence setting."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from community import notifications, presence
from community.moderation_forms import PresenceSettingsForm


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The newest notifications, unread ones marked; opening the list marks them read."""
    shown = notifications.inbox(request.user)
    unread = [notification for notification in shown if notification.read_at is None]
    notifications.notifications_mark_read(user=request.user, notifications=unread)
    # The navigation's count, read as the page renders, already leaves out what this page marked read.
    return render(request, "community/notifications/list.html", {"notifications": shown, "unread": len(unread)})


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    marked = notifications.notifications_mark_read(user=request.user)
    messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect("community:notifications")


@login_required
@require_http_methods(["GET", "POST"])
def presence_settings(request: HttpRequest) -> HttpResponse:
    hidden = presence.presence_hidden(request.user)
    form = PresenceSettingsForm(request.POST if request.method == "POST" else None, initial={"hidden": hidden})
    if request.method == "POST" and form.is_valid():
        presence.presence_set_hidden(user=request.user, hidden=form.cleaned_data["hidden"])
        messages.success(
            request,
            "You are hidden from “who is here”."
            if form.cleaned_data["hidden"]
            else "Your name shows on the stages you are working on.",
        )
        return redirect("community:settings")
    return render(request, "community/presence/settings.html", {"form": form, "hidden": hidden})
