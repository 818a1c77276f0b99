from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CONTENT_MODELS = ("node", "lesson", "glossaryterm", "faqentry")


def let_instructors_edit_content(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Model permissions are normally created after all migrations have run.
    config = apps.get_app_config("lessons")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [f"{action}_{model}" for model in CONTENT_MODELS for action in ("add", "change", "view")]
    group = Group.objects.get(name="Instructors")
    group.permissions.add(*Permission.objects.filter(content_type__app_label="lessons", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("lessons", "0003_curriculum")]

    operations = [migrations.RunPython(let_instructors_edit_content, migrations.RunPython.noop)]
