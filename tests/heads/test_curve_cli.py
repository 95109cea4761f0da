"""`tessera heads curve`: learning curves of embeddings against raw-band baselines, field hold-out."""

import csv
from pathlib import Path

from tests.tessera_cli import one_line_error, run_tessera


def test_curve_writes_csv_and_png(embedded, tmp_path):
    out = tmp_path / "curve"
    text = run_tessera(
        "heads",
        "curve",
        embedded.store,
        "--labels",
        embedded.labels,
        "--year",
        2024,
        "--out",
        out,
        "--cube",
        embedded.cube,
        "--baselines",
        embedded.cube,
        "--heads",
        "logistic",
        "--fractions",
        "0.1,1",
        "--repeats",
        "2",
        in_process=True,
        check=True,
    ).stdout
    rows = list(csv.DictReader(Path(out / "curve.csv").read_text().splitlines()))
    # embeddings and both raw-band baselines (--baselines) × 1 head × 2 fractions × 2 repeats
    assert len(rows) == 12 and {r["features"] for r in rows} == {"embeddings", "raw seasonal", "raw monthly"}
    assert "best raw" in text
    assert all(0 <= float(r["accuracy"]) <= 1 for r in rows)
    assert (out / "curve.png").stat().st_size > 5000 and "10% labels" in text


def test_curve_holds_out_whole_fields(embedded, tmp_path):
    out = tmp_path / "fields"
    run_tessera(
        "heads",
        "curve",
        embedded.store,
        "--labels",
        embedded.labels,
        "--year",
        2024,
        "--out",
        out,
        "--heads",
        "logistic",
        "--fractions",
        "0.5",
        "--repeats",
        "2",
        "--split",
        "groups",
        "--groups",
        embedded.fields,
        in_process=True,
        check=True,
    )
    rows = list(csv.DictReader(Path(out / "curve.csv").read_text().splitlines()))
    assert {r["split"] for r in rows} == {"groups"} and len(rows) == 2
    # --split groups without --groups: one line naming both
    r = run_tessera(
        "heads",
        "curve",
        embedded.store,
        "--labels",
        embedded.labels,
        "--year",
        2024,
        "--out",
        tmp_path / "x",
        "--split",
        "groups",
        in_process=True,
    )
    one_line_error(r, "--split groups and --groups FILE go together")
