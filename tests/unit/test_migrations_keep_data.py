"""`manage.py migrate` on a database made by the code of commit 2956e47 keeps every learner's work.

The test rolls its database back to that commit's migrations, fills it through the historical models (the
schema those migrations describe, whatever the model classes look like today), migrates to the latest
migrations and reads every row back through today's models, field by field. Run it on PostgreSQL too:
DATABASE_URL=postgres://postgres@127.0.0.1:5432/mlopslab pytest tests/unit/test_migrations_keep_data.py

A migration added later must be reversible for the roll-back to work, as `migrate` to an earlier state
needs anyway.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as current_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import StateApps
from django.db.models import Model

# The leaf migration of every app at commit 2956e47, the last main before sandbox/ became capability packages:
# learners' databases are at these. Contrib apps are pinned too, so a Django upgrade that adds one of their
# migrations is checked as well.
LEAVES_AT_2956E47 = [
    ("admin", "0003_logentry_add_action_flag_choices"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("contenttypes", "0002_remove_content_type_name"),
    ("lessons", "0005_quizzes"),
    ("sandbox", "0002_tracking"),
    ("sessions", "0001_initial"),
]
T0 = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)


class Ledger:
    """Every row the test wrote, as the database must still hold it: label -> pk -> {attname: value}."""

    def __init__(self, apps: StateApps) -> None:
        self.apps = apps
        self.rows: dict[str, dict[int, dict[str, object]]] = defaultdict(dict)
        self.links: dict[tuple[str, str], dict[int, set[int]]] = defaultdict(dict)

    def add(self, label: str, **fields: object) -> Model:
        row = self.apps.get_model(label).objects.create(**fields)
        self._record(row)
        return row

    def change(self, row: Model, **fields: object) -> None:
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
        self._record(row)

    def link(self, row: Model, field: str, *targets: Model) -> None:
        getattr(row, field).add(*targets)
        self.links[(row._meta.label, field)][row.pk] = {target.pk for target in targets}

    def _record(self, row: Model) -> None:
        # Read back from the saved instance, so auto_now_add times and primary keys are what was written.
        self.rows[row._meta.label][row.pk] = {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


def _migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def _migrate_to_latest() -> None:
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _migrate_to_2956e47() -> StateApps:
    executor = MigrationExecutor(connection)
    pinned = {app for app, _ in LEAVES_AT_2956E47}
    # An app that did not exist at that commit had no tables in such a database.
    unborn = sorted({app for app, _ in executor.loader.graph.leaf_nodes()} - pinned)
    executor = _migrate([*LEAVES_AT_2956E47, *((app, None) for app in unborn)])
    return executor.loader.project_state(LEAVES_AT_2956E47).apps


def _fill_course(ledger: Ledger) -> dict[str, Model]:
    """Two nodes, a lesson each and three kinds of question, as content loading writes them."""
    collect = ledger.add(
        "lessons.Node",
        slug="data-collection",
        title="Data collection",
        order=1,
        summary="Where data comes from.",
        objectives=["Name three sources", "Spot leakage"],
        challenge_key="dataset_versioned",
        pass_mark=80,
        source_path="lessons/content/01-data-collection/node.yaml",
    )
    train = ledger.add(
        "lessons.Node",
        slug="training",
        title="Training",
        order=2,
        summary="",
        objectives=[],
        challenge_key="",
        pass_mark=70,
        source_path="lessons/content/02-training/node.yaml",
    )
    ledger.link(train, "prerequisites", collect)
    lessons = [
        ledger.add(
            "lessons.Lesson",
            node=node,
            slug=f"intro-{node.slug}",
            title=f"Introduction to {node.title.lower()}",
            order=1,
            status="published" if node is collect else "draft",
            source="# Heading\n\nText with `code`.",
            html='<h1 id="heading">Heading</h1><p>Text with <code>code</code>.</p>',
            toc=[{"level": 1, "id": "heading", "title": "Heading"}],
            glossary_terms=["leakage"],
            word_count=3,
            reading_minutes=1,
            source_path=f"lessons/content/{node.order:02d}-{node.slug}/01-intro.md",
            file_hash=f"{node.order:064x}",
        )
        for node in (collect, train)
    ]
    single = ledger.add(
        "lessons.Question",
        node=collect,
        qid="collect-leakage",
        kind="single",
        order=1,
        difficulty=2,
        tags=["leakage"],
        prompt="Which split leaks?",
        prompt_html="<p>Which split leaks?</p>",
        explanation="Shuffling time series leaks the future.",
        explanation_html="<p>Shuffling time series leaks the future.</p>",
        answer={},
        source_path="lessons/content/01-data-collection/questions.yaml",
    )
    for order, (text, correct) in enumerate((("Random split of a time series", True), ("Split by date", False))):
        ledger.add(
            "lessons.Choice",
            question=single,
            order=order,
            text=text,
            text_html=f"<p>{text}</p>",
            correct=correct,
            feedback="Future rows end up in training." if correct else "",
            feedback_html="<p>Future rows end up in training.</p>" if correct else "",
        )
    numeric = ledger.add(
        "lessons.Question",
        node=collect,
        qid="collect-share",
        kind="numeric",
        order=2,
        difficulty=3,
        tags=[],
        prompt="Share of rows held out?",
        prompt_html="<p>Share of rows held out?</p>",
        explanation="A fifth.",
        explanation_html="<p>A fifth.</p>",
        answer={"value": 0.2, "tolerance": 0.01, "unit": ""},
        source_path="lessons/content/01-data-collection/questions.yaml",
    )
    explain = ledger.add(
        "lessons.Question",
        node=train,
        qid="train-overfit",
        kind="explain",
        order=1,
        difficulty=1,
        tags=["interview"],
        prompt="Explain overfitting.",
        prompt_html="<p>Explain overfitting.</p>",
        explanation="Memorising noise.",
        explanation_html="<p>Memorising noise.</p>",
        answer={},
        model_answer="The model fits noise in the training set.",
        model_answer_html="<p>The model fits noise in the training set.</p>",
        source_path="lessons/content/02-training/questions.yaml",
    )
    return {
        "collect": collect,
        "train": train,
        "lesson": lessons[0],
        "single": single,
        "numeric": numeric,
        "explain": explain,
    }


def _fill_learner(ledger: Ledger, index: int, course: dict[str, Model]) -> None:
    """One learner's account, sandbox work and course progress, with values that differ between learners."""
    at = T0 + timedelta(days=index)
    user = ledger.add(
        "auth.User",
        username=f"learner{index}",
        email=f"learner{index}@example.org",
        password=f"pbkdf2_sha256$1000000$salt{index}$notarealhash{index}=",
        first_name="Zoë" if index else "Ada",
        date_joined=at,
        last_login=at + timedelta(hours=1),
    )
    ledger.add("lessons.LearnerProfile", user=user, free_roam=bool(index))

    ledger.add(
        "sandbox.Job",
        owner=user,
        kind="first_model",
        status="succeeded",
        progress=100,
        message="Epoch 20 of 20",
        params={"epochs": 20, "seed": 7 + index},
        result={"losses": [0.69, 0.41, 0.3000000000000001], "accuracy": 0.9125, "weights": [[0.5, -1.25]]},
        attempts=1,
        celery_task_id=f"00000000-0000-4000-8000-00000000000{index}",
        started_at=at,
        finished_at=at + timedelta(seconds=12, microseconds=345),
    )
    dataset = ledger.add(
        "sandbox.Dataset",
        owner=user,
        name=f"churn {index}",
        source="churn",
        builtin="",
        task="classification",
        target="churned",
    )
    schema = [{"name": "tenure", "type": "int"}, {"name": "plan", "type": "category"}, {"name": "churned"}]
    versions = [
        ledger.add(
            "sandbox.DatasetVersion",
            dataset=dataset,
            number=number,
            content_hash=f"{index}{number}".ljust(64, "a"),
            rows=400 * number,
            columns=3,
            schema=schema,
            settings={"rows": 400 * number, "noise": 0.05, "churn_rate": 0.3, "seed": number},
            file=f"datasets/{dataset.pk}/v{number}.csv",
        )
        for number in (1, 2)
    ]
    experiment = ledger.add("sandbox.Experiment", owner=user, name="baseline", dataset=dataset, compared_run_ids=[])

    train_job = ledger.add(
        "sandbox.Job", owner=user, kind="train_run", status="succeeded", progress=100, attempts=2, started_at=at
    )
    sweep_job = ledger.add(
        "sandbox.Job",
        owner=user,
        kind="sweep",
        status="failed",
        progress=50,
        error="All 2 runs failed; the first: max_depth must be at least 1",
        attempts=1,
        started_at=at,
        finished_at=at + timedelta(minutes=1),
    )
    common = {"experiment": experiment, "owner": user, "preparation": {"scale": True, "impute": "median"}}
    succeeded = ledger.add(
        "sandbox.Run",
        **common,
        job=train_job,
        dataset_version=versions[0],
        name="lr C=1.0",
        status="succeeded",
        algorithm="logistic_regression",
        params={"C": 1.0, "penalty": "l2", "class_weight": None},
        split={"test_size": 0.2, "cv_folds": 5, "stratify": True},
        seed=42,
        metrics={"accuracy": 0.8733, "f1": 0.7, "cv_accuracy_std": 0.0125},
        test_metrics={"accuracy": 0.861},
        test_revealed_at=at + timedelta(hours=2),
        charts={"roc": {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.9, 1.0]}, "confusion": [[80, 4], [9, 7]]},
        rows={"train": 320, "test": 80},
        tags={"stage": "candidate", "note": "première ✓"},
        note="Baseline to beat.",
        environment={"python": "3.11.9", "scikit-learn": "1.5.2", "code": "2956e47"},
        model_file=f"runs/{index}/model.joblib",
        finished_at=at + timedelta(seconds=3),
    )
    failed = ledger.add(
        "sandbox.Run",
        **common,
        job=sweep_job,
        dataset_version=versions[1],
        name="rf n_estimators=50 max_depth=0",
        status="failed",
        algorithm="random_forest",
        params={"n_estimators": 50, "max_depth": 0},
        split={"test_size": 0.25, "cv_folds": 0},
        seed=7,
        error="max_depth must be at least 1",
    )
    replay = ledger.add(
        "sandbox.Run",
        **common,
        job=None,
        dataset_version=versions[0],
        replay_of=succeeded,
        name="lr C=1.0 (replay)",
        status="succeeded",
        algorithm="logistic_regression",
        params={"C": 1.0, "penalty": "l2", "class_weight": None},
        split={"test_size": 0.2, "cv_folds": 5, "stratify": True},
        seed=42,
        metrics={"accuracy": 0.8733, "f1": 0.7, "cv_accuracy_std": 0.0125},
        finished_at=at + timedelta(minutes=5),
    )
    ledger.change(train_job, params={"run_ids": [succeeded.pk]}, result={"runs": 1, "failed": 0})
    ledger.change(sweep_job, params={"run_ids": [failed.pk, replay.pk]}, result={})
    ledger.change(experiment, compared_run_ids=[succeeded.pk, replay.pk])
    ledger.add("sandbox.Job", owner=user, kind="train_run", status="queued", params={"run_ids": []})
    ledger.add(
        "sandbox.Job", owner=user, kind="sweep", status="running", progress=40, message="Run 2 of 5", started_at=at
    )

    collect, train = course["collect"], course["train"]
    ledger.add("lessons.LessonRead", user=user, lesson=course["lesson"])
    ledger.add(
        "lessons.NodeProgress",
        user=user,
        node=collect,
        quiz_passed_at=at + timedelta(hours=3),
        challenge_met_at=at + timedelta(hours=4),
        completed_at=at + timedelta(hours=4),
    )
    ledger.add("lessons.NodeProgress", user=user, node=train)
    quiz = ledger.add(
        "lessons.QuizAttempt",
        user=user,
        mode="node",
        node=collect,
        seed=1234 + index,
        question_ids=[course["single"].pk, course["numeric"].pk],
        finished_at=at + timedelta(hours=3),
        correct=1,
        graded=2,
        passed=False,
    )
    ledger.add("lessons.Answer", attempt=quiz, question=course["single"], response={"choices": [1]}, correct=False)
    ledger.add("lessons.Answer", attempt=quiz, question=course["numeric"], response={"value": 0.2}, correct=True)
    interview = ledger.add(
        "lessons.QuizAttempt",
        user=user,
        mode="interview",
        stages=["data-collection", "training"],
        seed=99,
        question_ids=[course["explain"].pk, course["numeric"].pk],
        deadline=at + timedelta(minutes=30),
        passed=None,
    )
    ledger.add("lessons.Answer", attempt=interview, question=course["explain"], response={}, correct=None, rating=3)
    ledger.add(
        "lessons.QuizAttempt",
        user=user,
        mode="review",
        seed=5,
        question_ids=[course["single"].pk],
        finished_at=at + timedelta(days=2),
        correct=1,
        graded=1,
        passed=True,
    )
    ledger.add(
        "lessons.ReviewCard",
        user=user,
        question=course["single"],
        state={
            "card_id": 1796171818341 + index,
            "state": 2,
            "step": None,
            "stability": 3.1262,
            "difficulty": 6.48,
            "due": "2026-11-25T09:30:15.123456+00:00",
            "last_review": "2026-11-22T09:30:15.123456+00:00",
        },
        due=at + timedelta(days=3),
        reviews=2,
        last_rating=2,
    )


def _differences(ledger: Ledger) -> list[str]:
    """What today's models read that differs from what was written, one line per row or value."""
    problems = []
    for label, written in ledger.rows.items():
        model = current_apps.get_model(label)
        names = sorted({name for row in written.values() for name in row})
        stored = {row[model._meta.pk.attname]: row for row in model.objects.values(*names)}
        if set(stored) != set(written):
            problems.append(f"{label}: wrote rows {sorted(written)}, found {sorted(stored)}")
        for pk, row in written.items():
            if pk not in stored:
                continue
            for name, value in row.items():
                found = stored[pk][name]
                if found != value:
                    problems.append(f"{label} #{pk} {name}: wrote {value!r}, read {found!r}")
    for (label, field), written in ledger.links.items():
        model = current_apps.get_model(label)
        for pk, targets in written.items():
            found = set(getattr(model.objects.get(pk=pk), field).values_list("pk", flat=True))
            if found != targets:
                problems.append(f"{label} #{pk} {field}: wrote {sorted(targets)}, read {sorted(found)}")
    return problems


@pytest.mark.django_db(transaction=True)
def test_migrating_a_database_made_at_2956e47_keeps_every_learners_work() -> None:
    try:
        ledger = Ledger(_migrate_to_2956e47())
        course = _fill_course(ledger)
        for index in range(2):
            _fill_learner(ledger, index, course)
        _migrate_to_latest()

        problems = _differences(ledger)

        assert not problems, "\n".join(problems)
    finally:
        # Later tests expect the latest schema, whatever happened above.
        _migrate_to_latest()
