"""A voice agent with a tool: it looks up opening hours instead of guessing.

The tool also takes the session's RunContext (left out of what the model sees): per-call data
that lives as long as the call. A hook prints the transcript when the session ends.

python examples/tool_agent.py examples/question.wav out/tool.wav
"""

import sys

import anyio
from pydantic import BaseModel, Field

from cascade import AgentConfig, RunContext, VoiceAgent, tool
from cascade.agent import LLMSettings, SessionEnded
from cascade.transports.file import FileTransport

HOURS = {"monday": "8 to 6", "saturday": "9 to 1", "sunday": "closed"}


class HoursArgs(BaseModel):
    day: str = Field(description="Day of the week, e.g. saturday")


@tool(timeout=5.0, filler="Let me check.")
async def opening_hours(args: HoursArgs, ctx: RunContext) -> str:
    """Opening hours of the Harbour Bakery on one day of the week."""
    ctx.userdata.setdefault("days asked", []).append(args.day)
    return HOURS.get(args.day.lower(), "8 to 6")


def print_transcript(event: SessionEnded) -> None:
    for line in event.transcript:
        print(f"{line.role:>9}: {line.text}")
    print(f"days asked: {event.userdata.get('days asked', [])}")


async def main(question: str, reply: str) -> None:
    prompt = "You answer calls for the Harbour Bakery. Use the tools for opening hours. Be brief."
    agent = VoiceAgent(AgentConfig(llm=LLMSettings(system_prompt=prompt)), tools=[opening_hours])
    agent.on(SessionEnded, print_transcript)
    await agent.run(FileTransport(question, reply))
    print(f"wrote {reply} (see the .json transcript for the tool call)")


if __name__ == "__main__":
    anyio.run(main, *(sys.argv[1:3] or ["examples/question.wav", "out/tool.wav"]))
