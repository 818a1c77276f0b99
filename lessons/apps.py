from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = "Lessons"

    def ready(self) -> None:
        from lessons import signals  # noqa: F401  (refuses prerequisite cycles wherever they are saved)
