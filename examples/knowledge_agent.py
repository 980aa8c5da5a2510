"""A voice agent that knows a document: the FAQ is pre-loaded into its context.

    python examples/knowledge_agent.py examples/question.wav out/knowledge.wav

The knowledge sits right after the system prompt, before the conversation, so vLLM's prefix cache
keeps it warm across turns. The same from the command line:

    cascade talk examples/question.wav --knowledge examples/knowledge/bakery.md
"""

import sys
from pathlib import Path

import anyio

from cascade.agent import AgentConfig, LLMSettings, VoiceAgent
from cascade.transports.file import FileTransport

FAQ = Path(__file__).parent / "knowledge" / "bakery.md"


async def main(question: str, reply: str) -> None:
    llm = LLMSettings(
        system_prompt="You answer calls for the Harbour Bakery using only the FAQ. One sentence.",
        knowledge=[FAQ],
    )
    await VoiceAgent(AgentConfig(llm=llm)).run(FileTransport(question, reply))
    print(f"wrote {reply}")


if __name__ == "__main__":
    anyio.run(main, *(sys.argv[1:3] or ["examples/question.wav", "out/knowledge.wav"]))
