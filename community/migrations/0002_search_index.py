"""On PostgreSQL, a GIN index over the words of each question, the very expression search filters by:
`SearchVector("search_document", config="english")` compiles to it. SQLite searches without an index."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

INDEX = "community_post_search_gin"
EXPRESSION = "to_tsvector('english'::regconfig, COALESCE(\"search_document\", ''))"


def create_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON community_post USING GIN ({EXPRESSION}) WHERE kind = 'question'"
        )


def drop_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("community", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
