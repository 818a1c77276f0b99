"""`manage.py drift_report`: the drift detector the monitoring pages use, on two CSV files, for instructors
preparing data and for scripts.

    python manage.py drift_report --reference REF.csv --current CUR.csv [--format json]
        [--test COLUMN=TEST[:THRESHOLD] ...] [--drift-share 0.5]

prints each column's test, score, threshold and verdict with the reason for its test, and the dataset's verdict;
`--format json` prints one object, `{"columns": [{"column", "test", "score", "threshold", "drifted"}],
"dataset": {"share_drifted", "drift_share", "dataset_drift"}}`. A file that cannot be tested (missing, not
CSV, empty, no column in common with the other) ends with a message and exit status 2.
"""

import json
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox.monitoring.drift import TESTS, DatasetDrift, DriftInputError, dataset_drift

BAD_INPUT = 2
SNIFF_BYTES = 8192


def _refuse(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_INPUT)


def read_window(path: Path, which: str) -> pd.DataFrame:
    """The CSV file at `path` as a frame, or a CommandError saying in plain words why it cannot be read."""
    if not path.exists():
        raise _refuse(f"The {which} file {path} does not exist.")
    if not path.is_file():
        raise _refuse(f"The {which} path {path} is not a file.")
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
    if not head.strip():
        raise _refuse(f"The {which} file {path} is empty: a CSV file needs a header row and at least one row.")
    if head.startswith(b"PAR1"):
        raise _refuse(f"The {which} file {path} is a Parquet file; this command reads CSV (export it with to_csv).")
    if b"\x00" in head:
        raise _refuse(f"The {which} file {path} is not a CSV file: it holds binary data.")
    if head.lstrip()[:1] in (b"{", b"["):
        raise _refuse(f"The {which} file {path} looks like JSON, not CSV: a CSV file starts with a header row.")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise _refuse(
            f"The {which} file {path} is empty: a CSV file needs a header row and at least one row."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise _refuse(f"The {which} file {path} is not a CSV file that can be read: {exc}".strip()) from None
    if frame.empty:
        raise _refuse(f"The {which} file {path} has a header row but no rows of data.")
    return frame


def _chosen_test(text: str) -> tuple[str, tuple[str, float | None]]:
    column, _, choice = text.partition("=")
    test, _, threshold = choice.partition(":")
    if not column or test not in TESTS:
        raise _refuse(
            f"--test {text!r}: write COLUMN=TEST or COLUMN=TEST:THRESHOLD, with TEST one of {', '.join(TESTS)}."
        )
    try:
        return column, (test, float(threshold) if threshold else None)
    except ValueError:
        raise _refuse(f"--test {text!r}: the threshold {threshold!r} is not a number.") from None


def _text(report: DatasetDrift, paths: tuple[Path, Path], frames: tuple[pd.DataFrame, pd.DataFrame]) -> str:
    (reference, current), (reference_frame, current_frame) = paths, frames
    lines = [f"Drift of {current} ({len(current_frame):,} rows) against {reference} ({len(reference_frame):,} rows):"]
    lines.append("")
    width = max(len("column"), *(len(c.column) for c in report.columns))
    lines.append(f"{'column':<{width}}  {'kind':<4}  {'test':<13}  {'score':>10}  {'threshold':>9}  verdict")
    for c in report.columns:
        verdict = "DRIFT" if c.drifted else "no drift"
        lines.append(f"{c.column:<{width}}  {c.kind:<4}  {c.test:<13}  {c.score:>10.4g}  {c.threshold:>9g}  {verdict}")
    lines += ["", "Why these tests:"]
    lines += [f"  {c.column}: {c.reason}" for c in report.columns]
    not_tested = dict(report.skipped)
    for name, frame, other in (
        ("reference", reference_frame, current_frame),
        ("current", current_frame, reference_frame),
    ):
        for column in frame.columns:
            if column not in other.columns:
                not_tested[str(column)] = f"only in the {name} file"
    if not_tested:
        lines += ["", "Not tested:"]
        lines += [f"  {column}: {why}" for column, why in not_tested.items()]
    drifted = sum(c.drifted for c in report.columns)
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    lines += [
        "",
        f"Dataset: {drifted} of {len(report.columns)} columns drifted (share {report.share_drifted:.2f}); the dataset "
        f"drifts when the share reaches {report.drift_share:g}: {verdict}.",
    ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Test every column two CSV files share for drift, as the monitoring pages do, and print the verdicts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reference", type=Path, required=True, help="the reference CSV (e.g. training data)")
        parser.add_argument("--current", type=Path, required=True, help="the current CSV (e.g. logged requests)")
        parser.add_argument("--format", choices=("text", "json"), default="text", help="output (default: text)")
        parser.add_argument(
            "--test",
            action="append",
            default=[],
            metavar="COLUMN=TEST[:THRESHOLD]",
            help=f"choose a column's test ({', '.join(TESTS)}), optionally with its threshold; repeatable",
        )
        parser.add_argument(
            "--drift-share",
            type=float,
            default=0.5,
            help="the dataset drifts when at least this share of columns drift (default: %(default)s)",
        )

    def handle(self, *args: object, **options: object) -> None:
        reference_path, current_path = options["reference"], options["current"]
        reference = read_window(reference_path, "reference")
        current = read_window(current_path, "current")
        tests = dict(_chosen_test(text) for text in options["test"])
        try:
            report = dataset_drift(reference, current, tests=tests, drift_share=options["drift_share"])
        except DriftInputError as exc:
            raise _refuse(str(exc)) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_json(), indent=2, allow_nan=False))
        else:
            self.stdout.write(_text(report, (reference_path, current_path), (reference, current)))
