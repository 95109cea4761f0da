"""The v2 pixel students against an independent reference written from the published description."""

import pickle

import numpy as np
import pytest
import torch
import zarr

import tessera.model as tm
from tessera.errors import ConfigError
from tessera.model import CheckpointError, Embedder, InferenceConfig
from tessera.model.binning import bin_length, pad_pattern, student_tokens
from tessera.model.student import STUDENT_PRESETS, PixelStudent, count_student_parameters
from tests.tessera_cli import run_tessera

from . import student_reference as ref


def raw_cube(n=60, seed=0):
    """(T, N, …) raw arrays: 23 S2 dates, 15 ascending and 12 descending S1 frames, with pixels
    that have no S2, no S1, neither, and S2 counts that hit several bins."""
    rng = np.random.default_rng(seed)
    t2, ta, td = 23, 15, 12
    cube = {
        "bands": rng.integers(1, 9000, (t2, n, 10)).astype(np.uint16),
        "mask": (rng.random((t2, n)) < 0.6).astype(np.uint8),
        "doy": np.sort(rng.choice(np.arange(1, 366), t2, replace=False)).astype(np.int16),
        "asc": rng.integers(2000, 9000, (ta, n, 2)).astype(np.int16),
        "asc_doy": np.sort(rng.choice(np.arange(1, 366), ta, replace=False)).astype(np.int16),
        "desc": rng.integers(2000, 9000, (td, n, 2)).astype(np.int16),
        "desc_doy": np.sort(rng.choice(np.arange(1, 366), td, replace=False)).astype(np.int16),
    }
    cube["asc"][rng.random((ta, n)) < 0.3] = 0  # frames without data
    cube["desc"][rng.random((td, n)) < 0.3, 1] = 0  # VH alone missing: still a valid frame
    cube["mask"][:, 0] = 0  # no S2
    cube["asc"][:, 1], cube["desc"][:, 1] = 0, 0  # no S1
    cube["mask"][:, 2], cube["asc"][:, 2], cube["desc"][:, 2] = 0, 0, 0  # nothing at all
    cube["mask"][:, 3] = 0
    cube["mask"][:9, 3] = 1  # 9 valid dates → bin 16
    cube["mask"][:, 4] = 1  # 23 → 24
    cube["mask"][:, 5] = 0
    cube["mask"][5, 5] = 1  # 1 → 8
    return cube


def ours(cube):
    return student_tokens(
        cube["bands"], cube["mask"], cube["doy"], cube["asc"], cube["asc_doy"], cube["desc"], cube["desc_doy"]
    )


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, [0] * 8),
        (3, [0, 1, 2, 0, 1, 2, 0, 1]),
        (8, list(range(8))),
        (9, [*list(range(9)), 1, 3, 4, 5, 6, 7, 8]),
        (17, [*list(range(17)), 1, 4, 7, 10, 12, 14, 16]),
        (300, [i * 299 // 255 for i in range(256)]),
    ],
)
def test_bin_padding_matches_hand_worked_cases(n, expected):
    length = int(bin_length(n))
    assert length == len(expected)
    assert pad_pattern(n, length).tolist() == expected


def test_no_valid_date_has_length_zero():
    assert int(bin_length(0)) == 0
    assert bin_length(np.array([0, 1, 8, 9, 256, 257, 1000])).tolist() == [0, 8, 8, 16, 256, 256, 256]


def test_tokens_equal_the_reference_pixel_by_pixel():
    cube = raw_cube()
    binned = ours(cube)
    ok_pixels = np.flatnonzero(binned.ok)
    assert not binned.ok[2] and binned.ok[0] and binned.ok[1]
    seen = 0
    for g in binned.groups:
        assert len({g.s2.shape[1:], g.s1.shape[1:]}) == 2  # one (S2 length, S1 length) per group
        for row, p in enumerate(g.pixels):
            s2, s1 = ref.pixel_tokens(
                cube["bands"][:, ok_pixels[p]],
                cube["mask"][:, ok_pixels[p]],
                cube["doy"],
                cube["asc"][:, ok_pixels[p]],
                cube["asc_doy"],
                cube["desc"][:, ok_pixels[p]],
                cube["desc_doy"],
            )
            np.testing.assert_array_equal(g.s2[row], s2)
            np.testing.assert_array_equal(g.s1[row], s1)
            seen += 1
    assert seen == binned.pixels == len(ok_pixels)


@pytest.fixture(scope="module", params=[False, True], ids=["standard", "qk_norm"])
def published(request, tmp_path_factory):
    torch.manual_seed(1)
    model = ref.Student(latent=16, layers=2, heads=4, ffn=64, qk=request.param).eval()
    path = tmp_path_factory.mktemp("v2") / "student_test.pt"
    model.save_published(path)
    return model, path


def test_published_payload_loads_with_the_architecture_from_args(published):
    reference, path = published
    model = tm.load(path)
    assert isinstance(model, PixelStudent) and not model.training
    assert model.cfg.qk_norm == reference.args["enable_qk_norm"]
    assert model.cfg.latent_dim == 16 and model.cfg.matryoshka_dims == (16, 32, 64, 128)
    assert set(model.state_dict()) == set(reference.state_dict())


def test_embeddings_equal_the_reference_end_to_end(published):
    reference, path = published
    cube = raw_cube()
    expected = ref.embed_pixels(reference, cube)
    binned = ours(cube)
    got = np.full_like(expected, np.nan)
    got[binned.ok] = Embedder(tm.load(path), InferenceConfig(batch_size=7)).binned(binned)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.nanmax(np.abs(got - expected)) <= 1e-5
    valid = got[binned.ok]
    np.testing.assert_allclose(valid.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(valid.std(axis=1), 1, atol=1e-3)  # LayerNorm's eps


def test_bf16_stays_within_cosine_0_9999_of_fp32(published):
    _, path = published
    binned = ours(raw_cube(n=200, seed=3))
    model = tm.load(path)
    a = Embedder(model, InferenceConfig()).binned(binned)
    b = Embedder(model, InferenceConfig(precision="bf16")).binned(binned)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() >= 0.9999, cos.min()
    assert not np.array_equal(a, b)  # bf16 really ran


def test_our_safetensors_round_trip_keeps_the_family(published, tmp_path):
    _, path = published
    model = tm.load(path)
    back = tm.load(tm.save(model, tmp_path / "s.safetensors"))
    assert isinstance(back, PixelStudent) and back.cfg == model.cfg
    s2, s1 = torch.randn(3, 16, 11), torch.randn(3, 8, 3)
    with torch.no_grad():
        assert torch.equal(back(s2, s1), model(s2, s1))


def test_presets_meet_the_published_parameter_counts():
    counts = {n: round(count_student_parameters(c) / 1e6, 2) for n, c in STUDENT_PRESETS.items()}
    assert counts == {"nano": 1.07, "small": 7.11, "medium": 21.03, "large": 43.83}
    assert count_student_parameters(STUDENT_PRESETS["small"]) == 7_112_322  # the published constructor


def test_args_that_contradict_the_weights_are_named(tmp_path):
    model = ref.Student(latent=16, layers=2, ffn=64)
    torch.save({"model": model.state_dict(), "args": {**model.args, "latent_dim": 32}}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"args say .*latent_dim.: 32.*wrong shape: s2_backbone"):
        tm.load(tmp_path / "bad.pt")
    torch.save({"model": model.state_dict(), "args": {**model.args, "num_layers": 3}}, tmp_path / "deep.pt")
    with pytest.raises(CheckpointError, match=r"missing \d+: s\d_backbone.transformer_encoder.layers.2"):
        tm.load(tmp_path / "deep.pt")


def test_the_teacher_is_named_as_such(tmp_path):
    state = ref.Student().state_dict()
    state["fusion_modality_embed"] = torch.zeros(2, 64)
    torch.save({"model": state, "args": {"repr_dim": 1024}}, tmp_path / "tessera_v2_2B_teacher.pt")
    with pytest.raises(CheckpointError, match=r"v2 teacher .*not a deployment model"):
        tm.load(tmp_path / "tessera_v2_2B_teacher.pt")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create the file if unpickled


def test_a_payload_holding_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"model": _Payload(str(marker)), "args": {}}, f)
    with pytest.raises(CheckpointError, match="never runs code"):
        tm.load(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from tessera.simulate import SimulationConfig, simulate, write_scene

    return write_scene(simulate(SimulationConfig(height=40, width=40, seed=4)), tmp_path_factory.mktemp("sc") / "scene")


def test_embed_writes_matryoshka_prefixes_equal_to_the_reference(published, scene, tmp_path):
    from tessera.access import open_store
    from tessera.access.region import read_grid
    from tessera.cube import open_cube
    from tessera.grid import Window
    from tessera.store import place

    reference, path = published
    store = tmp_path / "v2.zarr"
    r = run_tessera("embed", scene, "-c", path, "-s", store, "--depths", "4,16,32,64", "--no-report", in_process=True)
    assert r.returncode == 0, r.stderr
    cube = open_cube(scene / "cube.zarr")
    zone, win = place(cube.grid)
    group = zarr.open_group(store / zone.name, mode="r")
    full = group["embeddings"][:, :, win.slices[0], win.slices[1]]
    for d in (4, 16, 32, 64):
        assert np.array_equal(group[f"embeddings_d{d}"][:, :, win.slices[0], win.slices[1]], full[:, :d]), d
    reader = open_store(store)
    data = cube.read(Window(0, 0, *cube.grid.shape))
    n = cube.grid.height * cube.grid.width
    raw = {
        "bands": data.s2_bands.reshape(len(data.s2_doy), n, -1),
        "mask": data.s2_mask.reshape(len(data.s2_doy), n),
        "doy": data.s2_doy,
        "asc": data.s1_ascending.values.reshape(len(data.s1_ascending.doy), n, -1),
        "asc_doy": data.s1_ascending.doy,
        "desc": data.s1_descending.values.reshape(len(data.s1_descending.doy), n, -1),
        "desc_doy": data.s1_descending.doy,
    }
    expected = ref.embed_pixels(reference, raw).reshape(cube.grid.height, cube.grid.width, 128)

    got = read_grid(reader, cube.grid, cube.year).data
    step = np.abs(expected).max(axis=-1, keepdims=True) / 127  # the int8 quantisation step
    assert np.all(np.abs(got - expected) <= step / 2 + 1e-5)
    for d in (4, 16):  # the depths the official v2 stores publish
        assert np.array_equal(read_grid(reader, cube.grid, cube.year, depth=d).data, got[..., :d])


def test_depths_are_checked_against_the_model(published, scene, tmp_path):
    _, path = published
    r = run_tessera("embed", scene, "-c", path, "-s", tmp_path / "a.zarr", "--depths", "24", in_process=True)
    assert r.returncode == 2 and "prefixes a store holds are 4,16,32,64" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "a.zarr").exists()
    r = run_tessera("embed", scene, "-c", path, "-s", tmp_path / "b.zarr", "--draws", "3", in_process=True)
    assert r.returncode == 2 and "deterministically" in r.stderr


def test_v1_models_refuse_depths(scene, tmp_path):
    torch.manual_seed(0)
    ck = tm.save(tm.Tessera(tm.preset("tiny")), tmp_path / "v1.safetensors")
    r = run_tessera("embed", scene, "-c", ck, "-s", tmp_path / "c.zarr", "--depths", "16", in_process=True)
    assert r.returncode == 2 and "arbitrary slice" in r.stderr
    with pytest.raises(ConfigError):
        tm.student.student_preset("huge")


def test_official_stacker_npy_files_embed_as_the_reference_reads_them(published, tmp_path):
    """The official stacker's .npy files → `cube import-npy` → `embed -c student.pt`: equal (to the
    int8 step) to the reference run on the .npy arrays themselves, as the official inference reads them."""
    from tessera.cube import export_npy
    from tessera.simulate import SimulationConfig, simulate

    reference, path = published
    cube = simulate(SimulationConfig(height=24, width=24, seed=6)).cube
    stack = export_npy(cube, tmp_path / "stack")
    np.save(stack / "masks.npy", np.load(stack / "masks.npy") * 255)  # the stacker writes 0/255
    imported = tmp_path / "c.zarr"
    r = run_tessera(
        "cube", "import-npy", stack, imported, "--year", "2024", "--roi", stack / "roi.tif", in_process=True
    )
    assert r.returncode == 0, r.stderr
    r = run_tessera("embed", imported, "-c", path, "-s", tmp_path / "s.zarr", "--no-report", in_process=True)
    assert r.returncode == 0, r.stderr

    def flat(name):
        a = np.load(stack / f"{name}.npy")
        return a.reshape(a.shape[0], -1, *a.shape[3:])

    raw = {
        "bands": flat("bands"),
        "mask": (flat("masks") != 0).astype(np.uint8),
        "doy": np.load(stack / "doys.npy"),
        "asc": flat("sar_ascending"),
        "asc_doy": np.load(stack / "sar_ascending_doy.npy"),
        "desc": flat("sar_descending"),
        "desc_doy": np.load(stack / "sar_descending_doy.npy"),
    }
    expected = ref.embed_pixels(reference, raw).reshape(24, 24, 128)
    from tessera.access import open_store
    from tessera.access.region import read_grid

    got = read_grid(open_store(tmp_path / "s.zarr"), cube.grid, 2024).data
    step = np.abs(expected).max(axis=-1, keepdims=True) / 127
    assert np.isfinite(got).all() and np.all(np.abs(got - expected) <= step / 2 + 1e-5)
