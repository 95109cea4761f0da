import re

import pytest
import torch

import tessera.model as tm
from tessera.errors import ConfigError, InputNotFoundError
from tessera.model import CheckpointError, Tessera, preset

from .test_architecture import tokens


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Tessera(preset("tiny")).eval()


def outputs(m):
    s2, s1 = tokens(b=4)
    with torch.no_grad():
        return m.eval()(s2, s1)


def test_published_format_pt_loads_and_gives_identical_outputs(model, tmp_path):
    path = tmp_path / "published.pt"
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, path)
    loaded = tm.load(path)
    assert loaded.cfg == model.cfg and not loaded.training
    assert torch.equal(outputs(loaded), outputs(model))


def test_wrapped_and_prefixed_state_dicts_load(model, tmp_path):
    path = tmp_path / "ddp.pt"
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model_state_dict": state, "epoch": torch.tensor(3)}, path)
    assert torch.equal(outputs(tm.load(path)), outputs(model))


def test_our_safetensors_round_trip_with_metadata(model, tmp_path):
    path = tm.save(model, tmp_path / "ckpt.safetensors", step=17)
    meta = tm.checkpoint.read_metadata(path)
    assert meta["preset"] == "tiny" and meta["step"] == "17"
    assert torch.equal(outputs(tm.load(path)), outputs(model))
    assert len(tm.file_sha256(path)) == 64


def test_renamed_tensor_is_named_in_the_error(model, tmp_path):
    state = dict(model.state_dict())
    state["s2_backbone.attn_pool.query.weightX"] = state.pop("s2_backbone.attn_pool.query.weight")
    torch.save(state, tmp_path / "renamed.pt")
    with pytest.raises(
        CheckpointError,
        match=r"missing 1: s2_backbone\.attn_pool\.query\.weight.*"
        r"unexpected 1: s2_backbone\.attn_pool\.query\.weightX",
    ):
        tm.load(tmp_path / "renamed.pt")


def test_reshaped_tensor_is_named_in_the_error(model, tmp_path):
    state = dict(model.state_dict())
    key = "s1_backbone.transformer_encoder.layers.1.linear2.weight"
    state[key] = torch.zeros(64, 100)
    torch.save(state, tmp_path / "reshaped.pt")
    with pytest.raises(CheckpointError, match=re.escape(f"wrong shape: {key} (64, 100)")):
        tm.load(tmp_path / "reshaped.pt")


class NotATensor:
    pass


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"x": NotATensor()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights-only"):
        tm.load(tmp_path / "evil.pt")


def test_config_checks(model, tmp_path):
    path = tm.save(model, tmp_path / "ckpt.safetensors")
    with pytest.raises(ConfigError, match="not the requested"):
        tm.load(path, config=preset("small"))
    with pytest.raises(InputNotFoundError):
        tm.load(tmp_path / "nope.pt")
    odd = Tessera(tm.TesseraConfig(d_model=24, n_layers=1, n_heads=3, d_ffn=40))
    torch.save(odd.state_dict(), tmp_path / "odd.pt")
    with pytest.raises(ConfigError, match="head count"):
        tm.load(tmp_path / "odd.pt")
    assert tm.load(tmp_path / "odd.pt", n_heads=3).cfg.n_heads == 3
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable"):
        tm.load(tmp_path / "bad.safetensors")


def test_a_training_checkpoint_loads_as_its_model(tmp_path):
    """`tessera train` writes run/checkpoints/step_N.safetensors; embed and load take it as is."""
    import json
    from dataclasses import asdict

    import torch

    from tessera.model import Tessera, load, preset
    from tessera.train.loop import TrainConfig
    from tessera.train.state import save_training_state

    torch.manual_seed(3)
    model = Tessera(preset("tiny"))
    projector = torch.nn.Linear(128, 16)
    opt = torch.optim.AdamW([*model.parameters(), *projector.parameters()])
    meta = {"train_config": json.dumps(asdict(TrainConfig(preset="tiny")), default=str)}
    path = save_training_state(tmp_path, 7, model, projector, opt, meta)
    back = load(path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values(), strict=True))


def test_a_garbage_or_pickled_pt_never_suggests_running_it(tmp_path):
    import pytest
    import torch

    from tessera.model import CheckpointError, load

    (tmp_path / "garbage.pt").write_bytes(b"\x80\x04not a checkpoint at all" * 10)
    torch.save({"model_state_dict": {"w": torch.zeros(2)}, "fn": print}, tmp_path / "code.pt")
    for name in ("garbage.pt", "code.pt"):
        with pytest.raises(CheckpointError) as err:
            load(tmp_path / name)
        assert "weights_only=False" not in str(err.value) and "never runs code" in str(err.value)


def _header(raw: bytes) -> tuple[dict, bytes]:
    import json
    import struct

    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _with_header(header: dict, body: bytes) -> bytes:
    import json
    import struct

    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def test_truncated_and_lying_safetensors_are_named_never_read_as_weights(model, tmp_path):
    raw = tm.save(model, tmp_path / "ok.safetensors").read_bytes()
    header, body = _header(raw)
    key = next(k for k in header if k != "__metadata__")
    (tmp_path / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    bigger = {**header, key: {**header[key], "shape": [2 * d for d in header[key]["shape"]]}}
    (tmp_path / "shape-lies.safetensors").write_bytes(_with_header(bigger, body))
    beyond = {**header, key: {**header[key], "data_offsets": [0, 10**9]}}
    (tmp_path / "offsets-lie.safetensors").write_bytes(_with_header(beyond, body))
    for name in ("truncated", "shape-lies", "offsets-lie"):
        with pytest.raises(CheckpointError, match="not a readable safetensors file"):
            tm.load(tmp_path / f"{name}.safetensors")


def test_a_header_that_lies_consistently_is_caught_by_the_shapes(model, tmp_path):
    """Shape and offsets agree with the bytes, but the tensor is not the one the name says."""
    header, body = _header(tm.save(model, tmp_path / "ok.safetensors").read_bytes())
    shape = lambda v: v.get("shape", [])  # noqa: E731
    key = next(k for k, v in header.items() if k != "__metadata__" and len(shape(v)) == 2 and len(set(shape(v))) == 2)
    rows, cols = header[key]["shape"]
    swapped = {**header, key: {**header[key], "shape": [cols, rows]}}
    (tmp_path / "swapped.safetensors").write_bytes(_with_header(swapped, body))
    with pytest.raises(CheckpointError, match=re.escape(key)):
        tm.load(tmp_path / "swapped.safetensors")


def test_embed_with_a_truncated_checkpoint_is_one_line(model, tmp_path, small_cube):
    from tessera.cube import write_cube
    from tests.tessera_cli import one_line_error, run_tessera

    raw = tm.save(model, tmp_path / "ok.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[:1000])
    cube = write_cube(tmp_path / "c.zarr", small_cube)
    one_line_error(run_tessera("embed", cube, "-c", tmp_path / "cut.safetensors", "-s", tmp_path / "s"), "safetensors")
    assert not (tmp_path / "s").exists()


def test_a_checkpoint_with_a_nan_weight_is_refused(model, tmp_path):
    """One NaN weight made a store of nothing but no data, reported as embedded (issue #30)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    key = "s2_backbone.embedding.0.weight"
    state[key][0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match=re.escape(key)):
        tm.load(tmp_path / "nan.pt")
    tm.save(model, tmp_path / "ok.safetensors")
    from safetensors.torch import load_file, save_file

    from tessera.model.checkpoint import read_metadata

    tensors = load_file(str(tmp_path / "ok.safetensors"))
    tensors[key][1, 1] = float("inf")
    save_file(tensors, str(tmp_path / "inf.safetensors"), metadata=read_metadata(tmp_path / "ok.safetensors"))
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        tm.load(tmp_path / "inf.safetensors")


def test_the_same_weights_saved_twice_are_the_same_bytes(tmp_path):
    """The safetensors writer orders metadata by a hash map's whim: a resumed run's model hashed
    differently from an uninterrupted one's, and stores took them for two models."""
    import torch

    from tessera.model import Tessera, file_sha256, preset, save

    torch.manual_seed(0)
    model = Tessera(preset("tiny"))
    hashes = {
        file_sha256(save(model, tmp_path / f"m{i}.safetensors", step=6, extra={"rankme": "1.5"})) for i in range(6)
    }
    assert len(hashes) == 1
