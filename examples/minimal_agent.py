"""The smallest voice agent: answer a spoken question from a WAV file.

python examples/minimal_agent.py examples/question.wav out/minimal.wav
"""

import sys

import anyio

from cascade.agent import AgentConfig, LLMSettings, VoiceAgent
from cascade.transports.file import FileTransport


async def main(question: str, reply: str) -> None:
    agent = VoiceAgent(AgentConfig(llm=LLMSettings(system_prompt="You are a cheerful assistant. Be brief.")))
    session = await agent.run(FileTransport(question, reply))
    for turn in session.metrics.timelines:
        print(f"turn {turn.turn}: voice-to-voice {turn.voice_to_voice} s")


if __name__ == "__main__":
    anyio.run(main, *(sys.argv[1:3] or ["examples/question.wav", "out/minimal.wav"]))
