"""Text to speech: sentence-chunked streaming synthesis stages and the speech server.

>>> from cascade.tts import HibariTTS, TTSOptions
>>> tts = HibariTTS()                                   # the embedded default voice, 16 kHz out

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
