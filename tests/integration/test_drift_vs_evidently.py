"""The drift detector against real Evidently 0.7.23, run in its peer environment (peer_python("evidently")).

Seeded frames cover the rules at the edges: numeric, categorical and binary columns; small and large
references; 0/1 and small-integer columns (which Evidently types as categorical); the 1,000-row boundary on
both sides, with missing values deciding which side a column falls on; a drift share of exactly 0.5; and
tests a learner chose per column (PSI, Jensen-Shannon and the rest on binned and counted columns). Each frame
is written as two CSV files, which the site reads with pandas 3 and the peer environment with pandas 2, and
one subprocess of the peer runs `Report([DataDriftPreset()], include_tests=True)` on every frame, since
importing Evidently alone takes about 7 s. Evidently's verdicts are its own test results: a ValueDrift test
that fails is a drifted column, and a failed DriftedColumnsCount test a drifted dataset.

Issue 12 asks for agreement on at least 95 % of the column verdicts and on every dataset verdict; the test
also holds the chosen test, the column's kind and the score to Evidently's, column by column, and prints
the agreement it measured.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sandbox.monitoring.drift import dataset_drift

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

PEER = r"""
import json, logging, sys, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import pandas as pd
import evidently
from evidently import Dataset, Report
from evidently.presets import DataDriftPreset

job = json.loads(open(sys.argv[1]).read())
out = {"evidently": evidently.__version__, "pandas": pd.__version__, "frames": {}}
for name, frame in job.items():
    reference = pd.read_csv(frame["reference"], float_precision="round_trip")
    current = pd.read_csv(frame["current"], float_precision="round_trip")
    chosen = frame["tests"]
    preset = DataDriftPreset(
        drift_share=frame["drift_share"],
        per_column_method={column: test for column, (test, _) in chosen.items()} or None,
        per_column_threshold={column: t for column, (_, t) in chosen.items() if t is not None} or None,
    )
    result = Report([preset], include_tests=True).run(current, reference).dict()
    columns, dataset = {}, {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"] == "evidently:metric_v2:ValueDrift":
            columns[config["column"]] = {
                "method": config["method"], "threshold": config["threshold"], "score": metric["value"]
            }
        elif config["type"] == "evidently:metric_v2:DriftedColumnsCount":
            dataset["share"] = metric["value"]["share"]
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"] == "evidently:metric_v2:ValueDrift":
            columns[params["column"]]["drifted"] = test["status"] == "FAIL"
        elif params["type"] == "evidently:metric_v2:DriftedColumnsCount":
            dataset["drifted"] = test["status"] == "FAIL"
    definition = Dataset.from_pandas(current).data_definition
    for column in columns:
        columns[column]["kind"] = definition.get_column_type(column).value
    out["frames"][name] = {"columns": columns, "dataset": dataset}
print(json.dumps(out))
"""

# Evidently names a test it chose by its display name (StatTest.display_name in
# src/evidently/legacy/calculations/stattests/), and one it was given by the name it was given.
METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    **{name: name for name in ("ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi")},
}


def _numeric(rng: np.random.Generator, rows: int, drifted: bool) -> dict[str, np.ndarray]:
    """Numeric columns from no change to a large one; `drifted` shifts the changing ones."""
    k = 1.0 if drifted else 0.0
    return {
        "same": rng.normal(0, 1, rows),
        "shift_small": rng.normal(0.1 * k, 1, rows),
        "shift": rng.normal(0.5 * k, 1, rows),
        "scale": rng.normal(0, 1 + 0.5 * k, rows),
        "skewed": rng.lognormal(0.2 * k, 1, rows),
        "wide_integers": rng.integers(0, 100 + int(20 * k), rows),
        "uniform": rng.uniform(0, 1 + 0.1 * k, rows),
    }


def _categorical(rng: np.random.Generator, rows: int, drifted: bool) -> dict[str, np.ndarray]:
    three = ["red", "green", "blue"]
    four = ["north", "south", "east", "west"]
    many = [f"city {i:02d}" for i in range(15)]
    return {
        "three_same": rng.choice(three, rows, p=[0.5, 0.3, 0.2]),
        "four_shift": rng.choice(four, rows, p=[0.4, 0.3, 0.2, 0.1] if drifted else [0.25, 0.25, 0.25, 0.25]),
        "new_level": rng.choice(three + (["purple"] if drifted else []), rows),
        "two_same": rng.choice(["yes", "no"], rows, p=[0.3, 0.7]),
        "two_shift": rng.choice(["yes", "no"], rows, p=[0.45, 0.55] if drifted else [0.3, 0.7]),
        "flag": rng.random(rows) < (0.3 if drifted else 0.2),
        "many": rng.choice(many, rows),
    }


def _binary(rng: np.random.Generator, rows: int, drifted: bool) -> dict[str, np.ndarray]:
    return {
        "int01_same": (rng.random(rows) < 0.4).astype(int),
        "int01_shift": (rng.random(rows) < (0.55 if drifted else 0.4)).astype(int),
        "float01_same": (rng.random(rows) < 0.4).astype(float),
        "float01_shift": (rng.random(rows) < (0.5 if drifted else 0.4)).astype(float),
        "constant": np.zeros(rows, dtype=int),
        "rare_ones": ((rng.random(rows) < 0.02) if drifted else np.zeros(rows, dtype=bool)).astype(int),
    }


def _small_integers(rng: np.random.Generator, rows: int, drifted: bool) -> dict[str, np.ndarray]:
    k = 1 if drifted else 0
    return {
        "ints3": rng.integers(0, 3, rows),
        "ints5_shift": np.minimum(rng.poisson(1.0 + 0.4 * k, rows), 4),
        "ints7": rng.integers(0, 7, rows),
        "ints10_shift": rng.integers(k, 10 + k, rows),
        "ints14": rng.integers(0, 14, rows),
        "floats4": rng.integers(0, 4, rows) * 0.5,
        "floats2_shift": rng.choice([1.5, 2.5], rows, p=[0.5, 0.5] if drifted else [0.6, 0.4]),
        # More than 10 distinct values in the reference, at most 10 in the current window: typed by the current.
        "ints_narrowing": rng.integers(0, 8 if drifted else 16, rows),
    }


def _pair(build: object, seed: int, reference_rows: int, current_rows: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "reference": pd.DataFrame(build(rng, reference_rows, False)),
        "current": pd.DataFrame(build(rng, current_rows, True)),
        "drift_share": 0.5,
        "tests": {},
    }


def _boundary(seed: int, reference_rows: int, missing: int) -> dict:
    """Columns at the 1,000-row edge: `gappy` loses `missing` reference rows to NaN and ±inf, which do not count."""
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame(
        {
            "full": rng.normal(0, 1, reference_rows),
            "gappy": rng.normal(0, 1, reference_rows),
            "colour": rng.choice(["red", "green", "blue"], reference_rows),
            "city": rng.choice(["Lyon", "Oslo", "Pune", "Lima", None], reference_rows),
        }
    )
    if missing:
        gaps = rng.choice(reference_rows, missing, replace=False)
        reference.loc[gaps[: missing // 2], "gappy"] = np.nan
        reference.loc[gaps[missing // 2 :], "gappy"] = np.inf
    current = pd.DataFrame(
        {
            "full": rng.normal(0.12, 1, 700),
            "gappy": np.where(rng.random(700) < 0.05, np.nan, rng.normal(0.12, 1, 700)),
            "colour": rng.choice(["red", "green", "blue"], 700, p=[0.38, 0.31, 0.31]),
            "city": rng.choice(["Lyon", "Oslo", "Pune", "Lima", None], 700),
        }
    )
    return {"reference": reference, "current": current, "drift_share": 0.5, "tests": {}}


def _half(seed: int, drift_share: float, drifted: int, steady: int) -> dict:
    """`drifted` columns with a large shift and `steady` ones whose current window is the reference itself."""
    rng = np.random.default_rng(seed)
    reference = {f"steady_{i}": rng.normal(0, 1, 600) for i in range(steady)}
    reference |= {f"moved_{i}": rng.normal(0, 1, 600) for i in range(drifted)}
    current = {name: values[:400].copy() for name, values in reference.items()}
    for i in range(drifted):
        current[f"moved_{i}"] += 1.0
    return {
        "reference": pd.DataFrame(reference),
        "current": pd.DataFrame(current),
        "drift_share": drift_share,
        "tests": {},
    }


def _chosen(seed: int, reference_rows: int) -> dict:
    """Tests a learner chose, on numbers binned (many values) and counted (few), and on categories."""
    rng = np.random.default_rng(seed)

    def window(rows: int, k: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "psi_binned": rng.normal(0.3 * k, 1, rows),
                "psi_counted": rng.integers(0, 12, rows).astype(float) + (rng.random(rows) < 0.3 * k),
                "js_binned": rng.normal(0, 1 + 0.4 * k, rows),
                "js_tight": rng.normal(0.15 * k, 1, rows),
                "ks_chosen": rng.normal(0.1 * k, 1, rows),
                "wasserstein_chosen": rng.normal(0.2 * k, 1, rows),
                "psi_category": rng.choice(["a", "b", "c", "d"], rows, p=[0.25 + 0.1 * k, 0.25, 0.25, 0.25 - 0.1 * k]),
                "chi_category": rng.choice(["a", "b", "c"], rows, p=[0.34 + 0.06 * k, 0.33, 0.33 - 0.06 * k]),
            }
        )

    return {
        "reference": window(reference_rows, 0),
        "current": window(800, 1),
        "drift_share": 0.5,
        "tests": {
            "psi_binned": ["psi", None],
            "psi_counted": ["psi", 0.05],
            "js_binned": ["jensenshannon", None],
            "js_tight": ["jensenshannon", 0.05],
            "ks_chosen": ["ks", 0.01],
            "wasserstein_chosen": ["wasserstein", 0.15],
            "psi_category": ["psi", 0.2],
            "chi_category": ["chisquare", 0.1],
        },
    }


def frames() -> dict[str, dict]:
    return {
        "numeric, small reference": _pair(_numeric, 1, 600, 400),
        "numeric, large reference": _pair(_numeric, 2, 5000, 3000),
        "categorical, small reference": _pair(_categorical, 3, 700, 500),
        "categorical, large reference": _pair(_categorical, 4, 4000, 2500),
        "binary, small reference": _pair(_binary, 5, 800, 600),
        "binary, large reference": _pair(_binary, 6, 3000, 2000),
        "small integers, small reference": _pair(_small_integers, 7, 900, 700),
        "small integers, large reference": _pair(_small_integers, 8, 2000, 1500),
        "1,000 reference rows": _boundary(9, 1000, 0),
        "1,001 reference rows": _boundary(10, 1001, 0),
        "1,010 reference rows, 12 of them missing or infinite in one column": _boundary(11, 1010, 12),
        "1,010 reference rows, 10 of them missing or infinite in one column": _boundary(12, 1010, 10),
        "drift share exactly 0.5": _half(13, 0.5, drifted=2, steady=2),
        "drift share 0.4 of 5 at 0.4": _half(14, 0.4, drifted=2, steady=3),
        "drift share 0.25 of 4 at 0.3": _half(15, 0.3, drifted=1, steady=3),
        "chosen tests, small reference": _chosen(16, 900),
        "chosen tests, large reference": _chosen(17, 4000),
    }


@pytest.fixture(scope="module")
def evidently_python() -> Path:
    built = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "peer_env.py"), "evidently"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def compared(evidently_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("drift-vs-evidently")
    job, ours = {}, {}
    for number, (name, frame) in enumerate(frames().items()):
        paths = {}
        for window in ("reference", "current"):
            paths[window] = work / f"{number}-{window}.csv"
            frame[window].to_csv(paths[window], index=False)
        job[name] = {
            **{w: str(p) for w, p in paths.items()},
            "drift_share": frame["drift_share"],
            "tests": frame["tests"],
        }
        # The site reads the very files Evidently reads (pandas 3 reads floats exactly by default; pandas 2,
        # in the peer, needs float_precision="round_trip" for that).
        reference = pd.read_csv(paths["reference"])
        current = pd.read_csv(paths["current"])
        ours[name] = dataset_drift(
            reference,
            current,
            tests={column: tuple(choice) for column, choice in frame["tests"].items()},
            drift_share=frame["drift_share"],
        )
    (work / "job.json").write_text(json.dumps(job))
    ran = subprocess.run(
        [str(evidently_python), "-c", PEER, str(work / "job.json")], capture_output=True, text=True, timeout=600
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    theirs = json.loads(ran.stdout.strip().splitlines()[-1])
    assert theirs["evidently"] == "0.7.23"
    assert theirs["pandas"].startswith("2.")
    return {"ours": ours, "theirs": theirs["frames"]}


def test_the_frames_cover_both_sides_of_every_rule(compared: dict) -> None:
    tests = {column.test for result in compared["ours"].values() for column in result.columns}
    kinds = {column.kind for result in compared["ours"].values() for column in result.columns}
    rows = {column.reference_rows for result in compared["ours"].values() for column in result.columns}
    verdicts = {result.dataset_drift for result in compared["ours"].values()}
    assert tests == {"ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"}
    assert kinds == {"num", "cat"}
    assert {998, 1000, 1001} <= rows  # both sides of the 1,000, and missing rows counted out
    assert verdicts == {True, False}
    assert compared["ours"]["drift share exactly 0.5"].share_drifted == 0.5


def test_column_verdicts_agree_with_evidentlys_data_drift_preset(compared: dict, capsys: pytest.CaptureFixture) -> None:
    agree, total, tests_agree, kinds_agree, worst = 0, 0, 0, 0, 0.0
    differing = []
    for name, ours in compared["ours"].items():
        theirs = compared["theirs"][name]["columns"]
        assert sorted(theirs) == sorted(c.column for c in ours.columns), name
        for column in ours.columns:
            evidently = theirs[column.column]
            total += 1
            agree += column.drifted == evidently["drifted"]
            tests_agree += column.test == METHODS[evidently["method"]]
            kinds_agree += column.kind == evidently["kind"]
            if column.test == METHODS[evidently["method"]]:
                worst = max(worst, abs(column.score - evidently["score"]))
                if not np.isclose(column.score, evidently["score"], rtol=1e-9, atol=1e-12):
                    differing.append(f"{name}/{column.column}: {column.score!r} here, {evidently['score']!r} there")
            if column.drifted != evidently["drifted"] or column.test != METHODS[evidently["method"]]:
                differing.append(f"{name}/{column.column}: {column.test} {column.drifted}, Evidently {evidently}")
    rate = agree / total
    with capsys.disabled():
        print(
            f"\nDrift vs Evidently 0.7.23: {agree}/{total} column verdicts agree ({rate:.1%}); "
            f"tests {tests_agree}/{total}, kinds {kinds_agree}/{total}; largest score difference {worst:.2g}"
        )
    assert rate >= 0.95, "\n".join(differing)
    assert tests_agree == total, "\n".join(differing)
    assert kinds_agree == total
    assert not differing, "\n".join(differing)


def test_dataset_verdicts_agree_on_every_frame(compared: dict, capsys: pytest.CaptureFixture) -> None:
    differing = []
    for name, ours in compared["ours"].items():
        theirs = compared["theirs"][name]["dataset"]
        if ours.dataset_drift != theirs["drifted"] or ours.share_drifted != pytest.approx(theirs["share"]):
            differing.append(f"{name}: {ours.share_drifted} {ours.dataset_drift}, Evidently {theirs}")
    with capsys.disabled():
        frames_count = len(compared["ours"])
        print(f"Dataset verdicts vs Evidently 0.7.23: {frames_count - len(differing)}/{frames_count} frames agree")
    assert not differing, "\n".join(differing)


def test_a_drift_share_of_exactly_half_is_dataset_drift_in_both(compared: dict) -> None:
    assert compared["ours"]["drift share exactly 0.5"].dataset_drift is True
    assert compared["theirs"]["drift share exactly 0.5"]["dataset"] == {"share": 0.5, "drifted": True}


def test_missing_rows_do_not_count_towards_the_thousand(compared: dict) -> None:
    # 1,010 reference rows; `gappy` loses 12 to NaN and inf (998 left, p-value tests) or 10 (1,000 left).
    for name, rows, test in (
        ("1,010 reference rows, 12 of them missing or infinite in one column", 998, "ks"),
        ("1,010 reference rows, 10 of them missing or infinite in one column", 1000, "ks"),
        ("1,001 reference rows", 1001, "wasserstein"),
    ):
        gappy = next(c for c in compared["ours"][name].columns if c.column == "gappy")
        assert (gappy.reference_rows, gappy.test) == (rows, test)
        assert METHODS[compared["theirs"][name]["columns"]["gappy"]["method"]] == test
