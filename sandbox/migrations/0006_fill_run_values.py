"""Fill what 0005 added for the data there is: each version's text flag, each run's configuration fingerprint,
preparation flag and typed values, and each experiment's catalog of names.

The rules are copied here as they were when this migration was written (sandbox.tracking.models and
sandbox.datasets.models hold the live ones), so that the migration means the same thing whatever the
code becomes.
"""

import hashlib
import json
import math

from django.db import migrations

TEXT_DTYPES = ("object", "str", "string")
TEXT_LENGTH = 255
KEY_LENGTH = 100
NUMBER, TEXT, OTHER = 0, 1, 2
CHUNK = 2000


def _config_key(algorithm: str, params: dict) -> str:
    text = json.dumps([algorithm, params], sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) else number


def _typed(value: object) -> tuple[int, int, float | None, str] | None:
    if value is None:
        return None
    if isinstance(value, bool | str):
        kind = TEXT
    elif isinstance(value, int | float):
        kind = NUMBER
    else:
        kind = OTHER
    number = _as_number(value)
    return kind, 0 if number is not None else 1, number, str(value)[:TEXT_LENGTH]


def fill(apps: object, schema_editor: object) -> None:
    DatasetVersion = apps.get_model("sandbox", "DatasetVersion")
    Run = apps.get_model("sandbox", "Run")
    RunValue = apps.get_model("sandbox", "RunValue")
    ExperimentKey = apps.get_model("sandbox", "ExperimentKey")
    db = schema_editor.connection.alias

    texts = [
        version.pk
        for version in DatasetVersion.objects.using(db).only("schema")
        if any(column.get("dtype") in TEXT_DTYPES for column in version.schema)
    ]
    DatasetVersion.objects.using(db).filter(pk__in=texts).update(has_text_column=True)

    ids = list(Run.objects.using(db).order_by("pk").values_list("pk", flat=True))
    fields = ("name", "algorithm", "seed", "params", "preparation", "metrics", "test_metrics", "test_revealed_at")
    for start in range(0, len(ids), CHUNK):
        rows = Run.objects.using(db).filter(pk__in=ids[start : start + CHUNK])
        values, keys, derived = [], set(), []
        for row in rows.values("pk", "experiment_id", "created_at", "tags", *fields):
            params = row["params"]
            revealed = row["test_metrics"] if row["test_revealed_at"] else {}
            sources = [
                ("params", {**params, **({} if "algorithm" in params else {"algorithm": row["algorithm"]})}),
                ("attributes", {"name": row["name"], "algorithm": row["algorithm"], "seed": row["seed"]}),
                ("metrics", {**row["metrics"], **revealed}),
                ("tags", row["tags"]),
            ]
            for scope, logged in sources:
                for key, value in logged.items():
                    typed = _typed(value)
                    if typed is not None and len(key) <= KEY_LENGTH:
                        kind, rank, number, text = typed
                        values.append(
                            RunValue(
                                run_id=row["pk"], experiment_id=row["experiment_id"], scope=scope, key=key,
                                kind=kind, rank=rank, number=number, text=text, run_created_at=row["created_at"],
                            )
                        )  # fmt: skip
            catalog = [
                ("params", params),
                ("metrics", row["metrics"]),
                ("test", row["test_metrics"]),
                ("revealed", revealed),
                ("tags", row["tags"]),
            ]
            for scope, logged in catalog:
                for key, value in logged.items():
                    typed = _typed(value)
                    if typed is not None and len(key) <= KEY_LENGTH:
                        keys.add((row["experiment_id"], scope, key, typed[0]))
            preparation = row["preparation"]
            full = preparation.get("impute") != "none" and bool(preparation.get("scale"))
            derived.append(Run(pk=row["pk"], config_key=_config_key(row["algorithm"], params), full_preparation=full))
        RunValue.objects.using(db).bulk_create(values, batch_size=500)
        ExperimentKey.objects.using(db).bulk_create(
            [ExperimentKey(experiment_id=e, scope=s, name=n, kind=k) for e, s, n, k in sorted(keys)],
            batch_size=500,
            ignore_conflicts=True,
        )
        Run.objects.using(db).bulk_update(derived, ["config_key", "full_preparation"], batch_size=500)


def empty(apps: object, schema_editor: object) -> None:
    db = schema_editor.connection.alias
    apps.get_model("sandbox", "RunValue").objects.using(db).all().delete()
    apps.get_model("sandbox", "ExperimentKey").objects.using(db).all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0005_run_values"),
    ]

    operations = [
        migrations.RunPython(fill, empty),
    ]
