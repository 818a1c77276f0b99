from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox"

    def ready(self) -> None:
        from sandbox import challenges  # noqa: F401  (registers the challenge checks)
