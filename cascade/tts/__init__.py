"""Text to speech: sentence-chunked streaming synthesis stages and the speech server.

A TTS stage speaks each ``TextToSpeak`` (and the LLM's streamed text) chunk by chunk, sentence by
sentence; its audio frames carry the words as their sound starts, so the transport can tell what
the caller heard when the bot is interrupted:

>>> import anyio
>>> from cascade.frames import BotAudioFrame, TextToSpeak
>>> from cascade.testing import run_stages
>>> from cascade.tts import HibariTTS
>>> tts = HibariTTS()  # the embedded default voice, 16 kHz out
>>> say = TextToSpeak(pts=0.0, text="Hello! We open at 9:30 on Saturday.", response_id="r1")
>>> audio = anyio.run(run_stages, [tts], [say]).of(BotAudioFrame)
>>> [frame.text for frame in audio if frame.text]
['Hello!', ' We', ' open', ' at', ' 9:30', ' on', ' Saturday.']
>>> audio[0].sample_rate, audio[-1].last
(16000, True)

Stages: :class:`HibariTTS` (default, Apache-2.0), :class:`PiperTTS` (``piper`` extra, GPL),
:class:`OpenAISpeechTTS` (any OpenAI-compatible ``/v1/audio/speech`` server, e.g.
``cascade tts serve`` or Chatterbox in its own environment). Text handling:
:class:`SentenceChunker`, :func:`speakable_text`, :func:`normalize_for_speech`.
"""

from cascade.tts.base import EngineTTS, TTSOptions, TTSStage
from cascade.tts.chunker import ChunkerOptions, SentenceChunker, speakable_text
from cascade.tts.engine import TTSEngine, TTSError, UnknownVoiceError
from cascade.tts.hibari import HibariEngine, HibariOptions, HibariTTS
from cascade.tts.normalize import normalize_for_speech
from cascade.tts.openai_speech import OpenAISpeechOptions, OpenAISpeechTTS
from cascade.tts.piper import PiperEngine, PiperOptions, PiperTTS

__all__ = [
    "ChunkerOptions",
    "EngineTTS",
    "HibariEngine",
    "HibariOptions",
    "HibariTTS",
    "OpenAISpeechOptions",
    "OpenAISpeechTTS",
    "PiperEngine",
    "PiperOptions",
    "PiperTTS",
    "SentenceChunker",
    "TTSEngine",
    "TTSError",
    "TTSOptions",
    "TTSStage",
    "UnknownVoiceError",
    "normalize_for_speech",
    "speakable_text",
]
