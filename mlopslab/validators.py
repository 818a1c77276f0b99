from django.core.exceptions import ValidationError


class NotBlankPasswordValidator:
    """Refuses a password of nothing but spaces (or other whitespace), which the length validator lets through."""

    def validate(self, password: str, user: object | None = None) -> None:
        if not password.strip():
            raise ValidationError("This password is only spaces.", code="password_blank")

    def get_help_text(self) -> str:
        return "Your password can’t be only spaces."
