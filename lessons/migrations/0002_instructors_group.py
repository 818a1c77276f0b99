from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

INSTRUCTORS = "Instructors"


def create_instructors_group(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    # Permissions are normally created after all migrations; create this one now
    # so the group can hold it on a fresh database.
    node_type, _ = ContentType.objects.get_or_create(app_label="lessons", model="node")
    permission, _ = Permission.objects.get_or_create(
        content_type=node_type, codename="author_content", defaults={"name": "Can author lessons and questions"}
    )
    group, _ = Group.objects.get_or_create(name=INSTRUCTORS)
    group.permissions.add(permission)


def remove_instructors_group(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("auth", "Group").objects.filter(name=INSTRUCTORS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_instructors_group, remove_instructors_group)]
