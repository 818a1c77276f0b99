"""Instructors may open and change the question bank in the admin too, as they may lessons and stages (issue 13:
the Questions list answered 403 to the demo instructor). The studio is where they edit; the admin stays a fallback."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

QUESTION_MODELS = ("question", "choice")


def let_instructors_edit_questions(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    config = apps.get_app_config("lessons")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [f"{action}_{model}" for model in QUESTION_MODELS for action in ("add", "change", "view")]
    group = Group.objects.filter(name="Instructors").first()
    if group is not None:
        group.permissions.add(*Permission.objects.filter(content_type__app_label="lessons", codename__in=codenames))


def forget(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name="Instructors").first()
    if group is not None:
        codenames = [f"{action}_{model}" for model in QUESTION_MODELS for action in ("add", "change", "view")]
        group.permissions.remove(*group.permissions.filter(content_type__app_label="lessons", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("lessons", "0006_rendered_markdown")]

    operations = [migrations.RunPython(let_instructors_edit_questions, forget)]
