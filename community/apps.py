from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = "Community"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from community.prompts import lesson_saved
        from lessons.models import Lesson

        # Lessons know nothing of the community: a saved lesson (content sync, the studio) loads its prompts here.
        post_save.connect(lesson_saved, sender=Lesson, dispatch_uid="community.prompts.lesson_saved")
