"""Every command, given an output in a missing folder, a missing input and an invalid option value:
exit 2, one line on stderr, no traceback, nothing left behind."""

import socket

import pytest

from tests.tessera_cli import run_tessera

_BUSY = socket.socket()
_BUSY.bind(("127.0.0.1", 0))
_BUSY.listen()
BUSY_PORT = _BUSY.getsockname()[1]  # held for the whole module: serving on it must fail


def cases(e, tmp):
    """(name, argv) for every command: e is the embedded fixture, tmp a scratch folder."""
    ck, store, cube, labels = e.root / "tiny.safetensors", e.store, e.cube, e.labels
    box = "0.1195,52.1995,0.1215,52.2015"
    miss = tmp / "missing"
    return {
        # outputs in a folder that does not exist
        "simulate out": ["simulate", miss / "scene", "--size", 16],
        "embed out": ["embed", cube, "-c", ck, "-s", miss / "s.zarr"],
        "export out": ["export", store, miss / "x.tif", "--bbox", box, "--year", 2024],
        "sample out": ["sample", store, labels, "--year", 2024, "-o", miss / "x.csv"],
        "similar out": ["similar", store, "--point", "0.12,52.2", "--year", 2024, "-o", miss / "x.tif"],
        "pca out": ["pca", store, "--bbox", box, "--year", 2024, "-o", miss / "x.tif"],
        "change out": ["change", store, "--bbox", box, "--from", 2023, "--to", 2024, "-o", miss / "x.tif"],
        "heads fit out": ["heads", "fit", store, "--labels", labels, "--year", 2024, "-o", miss / "h.skops"],
        "heads predict out": [
            "heads",
            "predict",
            store,
            "--labels",
            labels,
            "--year",
            2024,
            "--cube",
            cube,
            "-o",
            miss / "m.tif",
        ],
        "heads curve out": ["heads", "curve", store, "--labels", labels, "--year", 2024, "-o", miss / "c" / "d"],
        "import-npy out": ["cube", "import-npy", tmp, miss / "c.zarr", "--year", 2024],
        "shards out": ["shards", cube, "-o", miss / "sh"],
        "train out": ["train", "--shards", tmp, "--out", miss / "run"],
        "info coverage out": ["info", store, "--coverage", miss / "c.png"],
        "quickstart out": ["quickstart", "--out", miss / "q"],
        "adapt out": ["adapt", cube, "--init", ck, "-o", miss / "a"],
        "adapt no init": ["adapt", cube, "--init", tmp / "nope.safetensors", "-o", tmp / "a"],
        "train init student": ["train", "--shards", tmp, "--out", tmp / "run", "--init", tmp / "nope.pt"],
        "curve split": [
            "heads",
            "curve",
            store,
            "--labels",
            labels,
            "--year",
            2024,
            "-o",
            tmp / "c",
            "--split",
            "fields",
        ],
        "sample depth": ["sample", store, labels, "--year", 2024, "-o", tmp / "x.csv", "--depth", 0],
        # missing inputs
        "embed no cube": ["embed", tmp / "nope.zarr", "-c", ck, "-s", tmp / "s.zarr"],
        "embed no ckpt": ["embed", cube, "-c", tmp / "nope.safetensors", "-s", tmp / "s.zarr"],
        "export no store": ["export", tmp / "nope", tmp / "x.tif", "--bbox", box, "--year", 2024],
        "sample no points": ["sample", store, tmp / "nope.csv", "--year", 2024, "-o", tmp / "x.csv"],
        "info no store": ["info", tmp / "nope"],
        "verify no store": ["verify", tmp / "nope"],
        "cube info no cube": ["cube", "info", tmp / "nope.zarr"],
        "heads fit no labels": [
            "heads",
            "fit",
            store,
            "--labels",
            tmp / "nope.tif",
            "--year",
            2024,
            "-o",
            tmp / "h.skops",
        ],
        "predict no model": [
            "heads",
            "predict",
            store,
            "--model",
            tmp / "nope.skops",
            "--year",
            2024,
            "--bbox",
            box,
            "-o",
            tmp / "m.tif",
        ],
        "shards no cube": ["shards", tmp / "nope.zarr", "-o", tmp / "sh"],
        "train no shards": ["train", "--shards", tmp / "nope", "--out", tmp / "run"],
        "import-npy no stack": ["cube", "import-npy", tmp / "nope", tmp / "c.zarr", "--year", 2024],
        # invalid option values
        "simulate size": ["simulate", tmp / "scene", "--size", 4],
        "similar top-k": ["similar", store, "--point", "0.12,52.2", "--year", 2024, "-o", tmp / "x.tif", "--top-k", 0],
        "similar point": ["similar", store, "--point", "east", "--year", 2024, "-o", tmp / "x.tif"],
        "export crs": ["export", store, tmp / "x.tif", "--bbox", box, "--year", 2024, "--crs", "EPSG:999999"],
        "export bbox": ["export", store, tmp / "x.tif", "--bbox", "1,2", "--year", 2024],
        "embed depths": ["embed", cube, "-c", ck, "-s", tmp / "s.zarr", "--depths", "16,x"],
        "serve port": ["serve", store, "--port", 70000],
        "serve busy port": ["serve", store, "--port", BUSY_PORT],
        "serve bad host": ["serve", store, "--host", "no-such-host.invalid", "--port", 0],
        "change years": ["change", store, "--bbox", box, "--from", 2024, "--to", 2024, "-o", tmp / "x.tif"],
        "heads head": [
            "heads",
            "fit",
            store,
            "--labels",
            labels,
            "--year",
            2024,
            "--head",
            "svm",
            "-o",
            tmp / "h.skops",
        ],
        "sample year": ["sample", store, labels, "--year", 1990, "-o", tmp / "x.csv"],
    }


@pytest.fixture()
def scratch(tmp_path):
    return tmp_path


NAMES = [
    "simulate out",
    "embed out",
    "export out",
    "sample out",
    "similar out",
    "pca out",
    "change out",
    "heads fit out",
    "heads predict out",
    "heads curve out",
    "import-npy out",
    "shards out",
    "train out",
    "info coverage out",
    "quickstart out",
    "embed no cube",
    "embed no ckpt",
    "export no store",
    "sample no points",
    "info no store",
    "verify no store",
    "cube info no cube",
    "heads fit no labels",
    "predict no model",
    "shards no cube",
    "train no shards",
    "import-npy no stack",
    "simulate size",
    "similar top-k",
    "similar point",
    "export crs",
    "export bbox",
    "embed depths",
    "serve port",
    "serve busy port",
    "serve bad host",
    "change years",
    "heads head",
    "sample year",
    "adapt out",
    "adapt no init",
    "train init student",
    "curve split",
    "sample depth",
]


@pytest.mark.parametrize("name", NAMES)
def test_bad_invocations_are_one_line_and_leave_nothing(embedded, scratch, name):
    argv = cases(embedded, scratch)[name]
    before = sorted(p for p in scratch.rglob("*"))
    done = run_tessera(*argv, in_process=True)
    code, err = done.returncode, done.stderr
    assert code == 2, (name, code, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p for p in scratch.rglob("*")) == before  # nothing written, nothing half-made
