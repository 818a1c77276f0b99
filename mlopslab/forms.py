from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from mlopslab import throttle


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional; only used to reset a forgotten password.")

    class Meta:
        model = User
        fields = ("username", "email")


class ThrottledLoginMixin:
    """Refuses before the password is even checked once the account or the address has failed too often.

    `retry_after` holds the seconds to wait when the form was refused for that reason, for the view's
    429 and Retry-After header.
    """

    retry_after: int | None = None

    def clean(self) -> dict:
        username = self.cleaned_data.get("username") or ""
        try:
            throttle.login_check(self.request, username)
        except throttle.Throttled as refusal:
            self.retry_after = refusal.retry_after
            raise ValidationError(refusal.message, code="throttled") from None
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                throttle.login_failed(self.request, username)
            raise
        throttle.login_succeeded(username)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
