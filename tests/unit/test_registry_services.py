"""The registry's services: version numbering, aliases and their events, tags, descriptions, the gate's
bookkeeping and the model loader's SHA-256 check, on real trained runs."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from mlopslab.refusals import Refused
from mlopslab.storage import StorageUnavailable
from sandbox.datasets import services as dataset_services
from sandbox.ml import training
from sandbox.models import AliasEvent, Dataset, Experiment, ModelAlias, ModelVersion, RegisteredModel, Run, Validation
from sandbox.registry import artifacts, selectors
from sandbox.registry import services as registry
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.django_db


def cancer_dataset(learner: User, settings: object, tmp_path: object) -> Dataset:
    """The breast cancer set in a fresh media folder, with no model cached from another test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    artifacts.model_cache_clear()
    return dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")


@pytest.fixture
def cancer(learner: User, settings: object, tmp_path: object) -> Dataset:
    return cancer_dataset(learner, settings, tmp_path)


def trained_run(dataset: Dataset, *, seed: int = 42, C: float = 1.0, status: str = Run.Status.SUCCEEDED) -> Run:
    experiment = Experiment.objects.filter(dataset=dataset).first() or Experiment.objects.create(
        owner=dataset.owner, name="e", dataset=dataset
    )
    run = Run.objects.create(
        experiment=experiment, owner=dataset.owner, dataset_version=dataset.versions.get(), name=f"lr-{seed}-{C}",
        algorithm="logistic_regression", params={"C": C, "max_iter": 200}, seed=seed,
        preparation=training.Preparation().as_dict(), split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
    )  # fmt: skip
    if status == Run.Status.SUCCEEDED:
        tracking.run_train(run_id=run.pk, on_progress=lambda percent, message: None)
    else:
        Run.objects.filter(pk=run.pk).update(status=status)
    run.refresh_from_db()
    return run


def test_a_trained_run_records_the_sha256_of_its_model_file(cancer: Dataset) -> None:
    run = trained_run(cancer)
    assert run.status == Run.Status.SUCCEEDED, run.error
    with default_storage.open(run.model_file, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == run.model_sha256


def test_versions_count_from_one_per_model_and_record_their_lineage(cancer: Dataset) -> None:
    first, second = trained_run(cancer, seed=1), trained_run(cancer, seed=2)
    v1 = registry.model_version_register(run=first, model_name="cancer")
    v2 = registry.model_version_register(run=second, model_name="cancer")
    other = registry.model_version_register(run=second, model_name="other")
    assert (v1.number, v2.number, other.number) == (1, 2, 1)
    assert v1.registered_model_id == v2.registered_model_id != other.registered_model_id
    assert v2.status == ModelVersion.Status.READY
    assert v2.dataset_version_id == second.dataset_version_id
    assert v2.model_sha256 == second.model_sha256
    assert v2.model_file == second.model_file
    assert v2.code_version == second.environment["code"]
    assert {"name": "mean radius", "type": "double", "required": True} in v2.signature
    assert "target" not in {column["name"] for column in v2.signature}
    model = RegisteredModel.objects.get(pk=v1.registered_model_id)
    assert model.golden_dataset_version_id == first.dataset_version_id
    assert len(model.golden_rows) == 200 == len(set(model.golden_rows))


def test_two_registrations_to_one_model_get_consecutive_numbers(cancer: Dataset) -> None:
    run = trained_run(cancer)
    model = registry.registered_model_create(owner=cancer.owner, name="m")
    numbers = [registry.model_version_register(run=run, registered_model=model).number for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_a_run_that_did_not_succeed_or_lost_its_fingerprint_is_refused_with_409(cancer: Dataset) -> None:
    failed = trained_run(cancer, status=Run.Status.FAILED)
    with pytest.raises(Refused) as refused:
        registry.model_version_register(run=failed, model_name="m")
    assert refused.value.status == 409
    run = trained_run(cancer)
    Run.objects.filter(pk=run.pk).update(model_sha256="")
    run.refresh_from_db()
    with pytest.raises(Refused) as refused:
        registry.model_version_register(run=run, model_name="m")
    assert refused.value.status == 409
    assert not ModelVersion.objects.exists()
    assert not RegisteredModel.objects.exists()


def test_another_learners_model_is_refused_as_not_found(cancer: Dataset, other_learner: User) -> None:
    theirs = registry.registered_model_create(owner=other_learner, name="theirs")
    with pytest.raises(Refused) as refused:
        registry.model_version_register(run=trained_run(cancer), registered_model=theirs)
    assert refused.value.status == 404
    assert not theirs.versions.exists()


def test_a_duplicate_model_name_is_a_conflict(learner: User) -> None:
    registry.registered_model_create(owner=learner, name="m")
    with pytest.raises(Refused) as refused:
        registry.registered_model_create(owner=learner, name="m")
    assert refused.value.status == 409


@pytest.mark.parametrize("alias", ["", "latest", "LATEST", "v1", "V12", "has space", "dot.ted", "a" * 256, "ü/"])
def test_alias_names_follow_mlflows_rules(alias: str) -> None:
    with pytest.raises(Refused):
        registry.alias_check(alias)


@pytest.mark.parametrize("alias", ["champion", "challenger", "blue-green_2", "v1a", "vv1", "a" * 255])
def test_valid_alias_names_pass(alias: str) -> None:
    assert registry.alias_check(alias) == alias


@pytest.mark.parametrize("key", ["", "a/../b", "/abs", "..", ".", "a//b", "trailing/", "semi;colon", "k" * 251])
def test_tag_keys_follow_mlflows_rules(key: str) -> None:
    with pytest.raises(Refused):
        registry.tag_check(key, "v")


def test_tags_are_added_edited_and_deleted_on_models_and_versions(cancer: Dataset) -> None:
    version = registry.model_version_register(run=trained_run(cancer), model_name="m")
    model = version.registered_model
    registry.registered_model_set_tag(registered_model=model, key="team/owner", value="ada")
    registry.registered_model_set_tag(registered_model=model, key="team/owner", value="grace")
    registry.model_version_set_tag(version=version, key="validated by", value="ci")
    assert RegisteredModel.objects.get(pk=model.pk).tags == {"team/owner": "grace"}
    assert ModelVersion.objects.get(pk=version.pk).tags == {"validated by": "ci"}
    registry.model_version_delete_tag(version=version, key="validated by")
    assert ModelVersion.objects.get(pk=version.pk).tags == {}
    with pytest.raises(Refused) as refused:
        registry.registered_model_delete_tag(registered_model=model, key="nope")
    assert refused.value.status == 404
    with pytest.raises(Refused):
        registry.model_version_set_tag(version=version, key="k", value="x" * 5001)


def test_descriptions_are_rendered_through_the_sanitizing_renderer(cancer: Dataset) -> None:
    version = registry.model_version_register(run=trained_run(cancer), model_name="m")
    registry.registered_model_set_description(
        registered_model=version.registered_model, description="**bold** <script>alert(1)</script>"
    )
    html = RegisteredModel.objects.get(pk=version.registered_model_id).description_html
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html


def test_setting_moving_and_deleting_an_alias_each_leave_one_event(cancer: Dataset, learner: User) -> None:
    v1 = registry.model_version_register(run=trained_run(cancer, seed=1), model_name="m")
    v2 = registry.model_version_register(run=trained_run(cancer, seed=2), model_name="m")
    model = v1.registered_model
    registry.model_alias_set(registered_model=model, alias="challenger", version=v1, actor=learner, reason="first")
    registry.model_alias_set(registered_model=model, alias="challenger", version=v2, actor=learner)
    registry.model_alias_set(registered_model=model, alias="shadow", version=v2, actor=learner)
    assert sorted(ModelAlias.objects.filter(version=v2).values_list("alias", flat=True)) == ["challenger", "shadow"]
    registry.model_alias_delete(registered_model=model, alias="shadow", actor=learner, reason="done")
    events = list(AliasEvent.objects.order_by("at", "pk").values_list("alias", "action", "from_version", "to_version"))
    assert events == [
        ("challenger", "set", None, v1.pk),
        ("challenger", "move", v1.pk, v2.pk),
        ("shadow", "set", None, v2.pk),
        ("shadow", "delete", v2.pk, None),
    ]
    assert not ModelAlias.objects.filter(alias="shadow").exists()
    with pytest.raises(Refused) as refused:
        registry.model_alias_set(registered_model=model, alias="challenger", version=v2, actor=learner)
    assert refused.value.status == 409


def test_an_alias_does_not_move_when_its_event_cannot_be_written(
    cancer: Dataset, learner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = registry.model_version_register(run=trained_run(cancer), model_name="m")
    model = v1.registered_model

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(AliasEvent.objects, "create", broken)
    with pytest.raises(RuntimeError):
        registry.model_alias_set(registered_model=model, alias="challenger", version=v1, actor=learner)
    assert not ModelAlias.objects.exists()


def test_alias_events_are_never_changed_or_deleted(cancer: Dataset, learner: User) -> None:
    v1 = registry.model_version_register(run=trained_run(cancer), model_name="m")
    event = registry.model_alias_set(registered_model=v1.registered_model, alias="a", version=v1, actor=learner)
    event.reason = "rewritten"
    with pytest.raises(ValueError, match="never changed"):
        event.save()
    with pytest.raises(ValueError, match="never deleted"):
        event.delete()


def test_champion_moves_only_through_the_gate_and_nothing_moves_while_one_is_pending(
    cancer: Dataset, learner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandbox.jobs.services.redis_problem", lambda url, **kwargs: None)
    v1 = registry.model_version_register(run=trained_run(cancer), model_name="m")
    model = v1.registered_model
    with pytest.raises(Refused) as refused:
        registry.model_alias_set(registered_model=model, alias="champion", version=v1, actor=learner)
    assert refused.value.status == 409
    validation = registry.model_version_promote(version=v1, actor=learner)
    assert validation.status == Validation.Status.PENDING
    assert validation.job is not None
    for attempt in (
        lambda: registry.model_version_promote(version=v1, actor=learner),
        lambda: registry.model_alias_delete(registered_model=model, alias="champion", actor=learner),
    ):
        with pytest.raises(Refused) as refused:
            attempt()
        assert refused.value.status == 409
    assert Validation.objects.count() == 1


def test_a_refused_gate_job_leaves_no_pending_validation(cancer: Dataset, learner: User, settings: object) -> None:
    settings.JOBS_PER_LEARNER = 0
    v1 = registry.model_version_register(run=trained_run(cancer), model_name="m")
    with pytest.raises(Refused):
        registry.model_version_promote(version=v1, actor=learner)
    assert not Validation.objects.exists()


def test_the_as_of_answer_at_its_boundaries(cancer: Dataset, learner: User) -> None:
    v1 = registry.model_version_register(run=trained_run(cancer, seed=1), model_name="m")
    v2 = registry.model_version_register(run=trained_run(cancer, seed=2), model_name="m")
    model = v1.registered_model
    set_event = registry.model_alias_set(registered_model=model, alias="challenger", version=v1, actor=learner)
    move = registry.model_alias_set(registered_model=model, alias="challenger", version=v2, actor=learner)
    gone = registry.model_alias_delete(registered_model=model, alias="challenger", actor=learner)

    def asked(when: object) -> object:
        return selectors.alias_as_of(registered_model=model, alias="challenger", when=when)

    before = asked(set_event.at - timedelta(microseconds=1))
    assert before.version is None
    assert before.event is None
    assert before.first_set_at == set_event.at
    assert asked(set_event.at).version == v1
    assert asked(move.at - timedelta(microseconds=1)).version == (v1 if move.at > set_event.at else v2)
    assert asked(move.at).version == v2
    after = asked(gone.at + timedelta(days=1))
    assert after.version is None
    assert after.event.action == AliasEvent.Action.DELETE
    never = selectors.alias_as_of(registered_model=model, alias="nobody", when=gone.at)
    assert never.event is None
    assert never.first_set_at is None


def test_the_loader_refuses_a_file_whose_sha256_changed_and_a_path_the_app_did_not_write(cancer: Dataset) -> None:
    version = registry.model_version_register(run=trained_run(cancer), model_name="m")
    assert hasattr(artifacts.model_load(version), "predict")
    artifacts.model_cache_clear()
    default_storage.delete(version.model_file)
    default_storage.save(version.model_file, ContentFile(b"not the model"))
    with pytest.raises(Refused) as refused:
        artifacts.model_load(version)
    assert refused.value.status == 409
    assert "SHA-256" in refused.value.message
    version.model_file = "datasets/elsewhere.joblib"
    with pytest.raises(Refused):
        artifacts.model_load(version)


def test_a_store_that_does_not_answer_is_a_503_naming_the_file_and_the_model_loads_once_it_answers(
    cancer: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = registry.model_version_register(run=trained_run(cancer), model_name="m")
    artifacts.model_cache_clear()

    class Unanswered:
        def open(self, name: str, mode: str = "rb") -> object:
            raise StorageUnavailable(f"The object store did not answer while reading {name}; nothing was saved.")

    monkeypatch.setattr(artifacts, "default_storage", Unanswered())
    # A ModelFileRefused, which the gate, the deploy job and the endpoint each answer in their own way.
    with pytest.raises(artifacts.ModelFileRefused) as refused:
        artifacts.model_load(version)
    # Not "missing": the file may well be there.
    assert (refused.value.status, refused.value.message) == (
        503,
        f"The object store did not answer while reading {version.model_file}; nothing was saved.",
    )
    monkeypatch.setattr(artifacts, "default_storage", default_storage)
    assert hasattr(artifacts.model_load(version), "predict")


def test_rollback_needs_a_reason_and_is_recorded_as_one(cancer: Dataset, learner: User) -> None:
    v1 = registry.model_version_register(run=trained_run(cancer, seed=1), model_name="m")
    v2 = registry.model_version_register(run=trained_run(cancer, seed=2), model_name="m")
    model = v1.registered_model
    registry.model_alias_set(registered_model=model, alias="prod", version=v2, actor=learner)
    with pytest.raises(Refused):
        registry.model_alias_rollback(registered_model=model, alias="prod", version=v1, actor=learner, reason=" ")
    event = registry.model_alias_rollback(
        registered_model=model, alias="prod", version=v1, actor=learner, reason="v2 answers 500s"
    )
    assert (event.action, event.from_version, event.to_version, event.reason) == ("rollback", v2, v1, "v2 answers 500s")


def test_a_registered_run_cannot_vanish_but_its_model_can_go_with_its_versions_and_events(
    cancer: Dataset, learner: User
) -> None:
    from django.db.models import RestrictedError

    run = trained_run(cancer)
    version = registry.model_version_register(run=run, model_name="m")
    registry.model_alias_set(registered_model=version.registered_model, alias="a", version=version, actor=learner)
    with pytest.raises(RestrictedError):
        run.delete()
    version.registered_model.delete()
    assert not ModelVersion.objects.exists()
    assert not AliasEvent.objects.exists()
    assert Run.objects.filter(pk=run.pk).exists()
