import pytest

from sandbox.ml.first_model import MAX_EPOCHS, train_first_model


def test_it_learns_the_breast_cancer_data() -> None:
    result = train_first_model(epochs=15, seed=3)
    assert result.rows == 569
    assert result.features == 30
    assert [score.epoch for score in result.epochs] == list(range(1, 16))
    assert result.test_accuracy > 0.9


def test_the_same_seed_gives_the_same_scores() -> None:
    assert train_first_model(epochs=5, seed=11) == train_first_model(epochs=5, seed=11)


def test_progress_only_moves_forward_and_stays_within_bounds() -> None:
    seen: list[int] = []
    train_first_model(epochs=7, on_progress=lambda percent, message: seen.append(percent))
    assert seen == sorted(seen)
    assert seen[0] > 0
    assert seen[-1] < 100


@pytest.mark.parametrize("epochs", [0, MAX_EPOCHS + 1])
def test_it_refuses_an_epoch_count_out_of_bounds(epochs: int) -> None:
    with pytest.raises(ValueError, match="epochs must be between"):
        train_first_model(epochs=epochs)
