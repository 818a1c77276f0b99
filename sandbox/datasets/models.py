from django.conf import settings
from django.db import models

# The dtypes pandas gives a column of text.
TEXT_DTYPES = ("object", "str", "string")


def schema_has_text(schema: list) -> bool:
    """Whether some column of a version's schema holds text."""
    return any(column.get("dtype") in TEXT_DTYPES for column in schema)


class Dataset(models.Model):
    class Source(models.TextChoices):
        BUILTIN = "builtin", "Built-in scikit-learn set"
        CHURN = "churn", "Synthetic customer churn"
        UPLOAD = "upload", "Uploaded CSV"
        CORPUS = "corpus", "Course corpus (glossary and FAQ)"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=100)
    source = models.CharField(max_length=10, choices=Source.choices)
    builtin = models.CharField(max_length=20, blank=True)
    task = models.CharField(max_length=20)
    target = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name


class DatasetVersion(models.Model):
    """One exact content of a dataset, identified by the SHA-256 of its canonical form, as DVC does."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    schema = models.JSONField(default=list)
    settings = models.JSONField(default=dict, blank=True, help_text="How the content was made (churn settings).")
    file = models.CharField(max_length=200, help_text="Storage path of the CSV, written by the app.")
    has_text_column = models.BooleanField(
        default=False, editable=False, help_text="Some column holds text (derived from the schema on save)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "content_hash"], name="version_content_once"),
            models.UniqueConstraint(fields=["dataset", "number"], name="version_number_once"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.has_text_column = schema_has_text(self.schema)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "schema" in update_fields:
            kwargs["update_fields"] = {*update_fields, "has_text_column"}
        super().save(*args, **kwargs)

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]
