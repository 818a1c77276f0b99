from django.db import models


class Node(models.Model):
    """One stage of the lifecycle map."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=120)
    order = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["order"]
        permissions = [("author_content", "Can author lessons and questions")]

    def __str__(self) -> str:
        return self.title
