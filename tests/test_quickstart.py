"""The quickstart, scaled down: every stage runs and the report cites this run's numbers."""

import re

from tessera.quickstart import QuickstartConfig, run


def test_quickstart_end_to_end_small(tmp_path):
    cfg = QuickstartConfig(size=64, adapt_steps=4, repeats=1, draws=2)  # from the shipped checkpoint
    report = run(tmp_path / "qs", cfg)
    text = report.read_text()
    raw_map = next((tmp_path / "qs" / "report").glob("map_raw_*.png")).name
    for fig in ("learning_curve.png", "pca.png", "truth.png", "map_embeddings.png", raw_map):
        assert (tmp_path / "qs" / "report" / fig).stat().st_size > 1000 and fig in text
    rows = [
        line
        for line in text.splitlines()
        if line.startswith(("| embeddings |", "| not adapted |", "| raw seasonal |", "| raw monthly |"))
    ]
    assert "field hold-out" in text
    assert "kept step" in text and text.count("Adaptation: best head") == 2
    assert len(rows) == 8 and all(len(re.findall(r"0\.\d{3} ± 0\.\d{3}", r)) == 6 for r in rows)
    assert "**1% labels:**" in text and "**10% labels:**" in text
    assert (tmp_path / "qs" / "embeddings.zarr" / "zarr.json").exists()
    html = (tmp_path / "qs" / "report" / "map.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "report/map.html" in text
    assert (tmp_path / "qs" / "report" / "pca.tif").stat().st_size > 1000
