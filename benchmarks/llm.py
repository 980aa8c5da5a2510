"""LLM stage benchmark against the embedded vLLM (prints JSON).

usage: python benchmarks/llm.py MANIFEST [--port 8432] [--contexts 1024,4096,16384] [--reps 3]

Measures, on the same server:
* time to first token and decode rate through ChatLLM versus the raw ``openai`` client (the
  stage's overhead) on the manifest's prompts;
* a tool-call round trip (call, run, answer);
* prefill time as the prompt grows (uncached prompts, 1 output token);
* TTFT at turn 10 of a conversation with ~4K tokens of pre-loaded knowledge: warm (the prefix
  cache holds the earlier turns) and cold (same prompt with a changed first byte).

Build the manifest with ``python benchmarks/build_llm_manifest.py benchmarks/data/llm``. The
server is started for the run (max_model_len fits the largest context) and stopped afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
from machine_info import describe_machine as machine
from openai import AsyncOpenAI

from cascade.clock import RealClock
from cascade.frames import EndOfTurn, Frame, LLMTextDelta, ToolCallRequest, ToolCallResult
from cascade.llm import ChatLLM, ContextOptions, ServerOptions, get_or_start_server, tool
from cascade.pipeline import run_session
from cascade.session import SessionContext
from cascade.testing import ListSource

SYSTEM = "You are a friendly voice assistant. Answer briefly."


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"It is sunny and 21 degrees Celsius in {city}."


async def run_turns(llm: ChatLLM, texts: list[str], gap: float = 0.0) -> list[Frame]:
    """Feed turns one after another (each after the previous reply) on the real clock."""
    frames: list[Frame] = []
    ctx = SessionContext(clock=RealClock())

    class Turns(ListSource):
        async def produce(self) -> None:
            # a call's first turn ends seconds after the session started: by then the stage has
            # connected (measuring from its start-up would add ~0.1 s that no caller waits for)
            await anyio.sleep(1.0)
            for text in texts:
                before = len([f for f in frames if f.kind == "LLMResponseEnded"])
                await self.emit(EndOfTurn(pts=self.clock.now(), text=text))
                while len([f for f in frames if f.kind == "LLMResponseEnded"]) == before:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
                await anyio.sleep(gap)

    await run_session([Turns([]), llm], ctx, collect=frames)
    return frames


def stage_timings(frames: list[Frame]) -> list[dict[str, float]]:
    """Per turn: TTFT (EndOfTurn to first text) and decode rate (text deltas per second)."""
    out = []
    start = None
    deltas: list[Frame] = []
    for frame in frames:
        if isinstance(frame, EndOfTurn):
            start, deltas = frame.pts, []
        elif isinstance(frame, LLMTextDelta):
            deltas.append(frame)
        elif frame.kind == "LLMResponseEnded" and start is not None and deltas:
            span = deltas[-1].pts - deltas[0].pts
            rate = (len(deltas) - 1) / span if span > 0 and len(deltas) > 1 else 0.0
            out.append({"ttft": deltas[0].pts - start, "tok_s": rate, "tokens": len(deltas)})
    return out


async def raw_stream(
    client: AsyncOpenAI, model: str, messages: list[dict[str, Any]], max_tokens: int
) -> dict[str, float]:
    """TTFT and decode rate with the bare client."""
    started = time.monotonic()
    stamps: list[float] = []
    stream = await client.chat.completions.create(
        model=model,
        messages=messages,
        stream=True,
        max_tokens=max_tokens,
        temperature=0.0,  # type: ignore[arg-type]
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.monotonic())
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    return {
        "ttft": stamps[0] - started if stamps else float("nan"),
        "tok_s": (len(stamps) - 1) / span if span > 0 else 0.0,
        "tokens": len(stamps),
    }


def mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 4) if values else float("nan")


def text_of_tokens(base: str, root: str, model: str, tokens: int) -> str:
    """A prefix of ``base`` (repeated if needed) about ``tokens`` tokens long (vLLM /tokenize)."""
    text = base
    while len(text) < tokens * 5:
        text += "\n" + base
    low, high = 0, len(text)
    with httpx.Client(timeout=60) as http:

        def count(n: int) -> int:
            return int(
                http.post(f"{root}/tokenize", json={"model": model, "prompt": text[:n]}).json()["count"]
            )

        while high - low > 200:
            mid = (low + high) // 2
            if count(mid) < tokens:
                low = mid
            else:
                high = mid
    return text[:low]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--port", type=int, default=8432)
    parser.add_argument("--contexts", default="1024,4096,16384")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    entries = [json.loads(line) for line in args.manifest.read_text().splitlines() if line.strip()]
    prompts = [e["text"] for e in entries if e["kind"] == "prompt"]
    turns = [e["text"] for e in entries if e["kind"] == "turn"]
    knowledge = next(
        (args.manifest.parent / e["path"]).read_text() for e in entries if e["kind"] == "knowledge"
    )
    tool_prompt = next(e["text"] for e in entries if e["kind"] == "tool_prompt")
    contexts = [int(c) for c in args.contexts.split(",") if c]

    options = ServerOptions(port=args.port, max_model_len=max(8192, max(contexts) + 1024))
    started = time.monotonic()
    server = await anyio.to_thread.run_sync(get_or_start_server, options)
    startup = time.monotonic() - started
    root = server.base_url.removesuffix("/v1")
    model = server.model_name
    client = AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    report: dict[str, Any] = {
        "benchmark": "llm",
        "machine": machine(),
        "model": model,
        "server": {
            "startup_s": round(startup, 1),
            "reused": server.process is None,
            "max_model_len": options.max_model_len,
        },
    }
    try:
        await raw_stream(client, model, [{"role": "user", "content": "Hi"}], 8)  # warm-up
        # 1. stage overhead: same prompts, same sampling, fresh conversation each time.
        raw, staged = [], []
        for _ in range(args.reps):
            for prompt in prompts:
                messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
                raw.append(await raw_stream(client, model, messages, args.max_tokens))
                llm = ChatLLM(
                    base_url=server.base_url,
                    max_tokens=args.max_tokens,
                    temperature=0.0,
                    context=ContextOptions(system_prompt=SYSTEM),
                )
                staged += stage_timings(await run_turns(llm, [prompt]))
        report["stage_vs_raw"] = {
            "runs": len(raw),
            "raw": {"ttft_s": mean([r["ttft"] for r in raw]), "tok_s": mean([r["tok_s"] for r in raw])},
            "stage": {
                "ttft_s": mean([r["ttft"] for r in staged]),
                "tok_s": mean([r["tok_s"] for r in staged]),
            },
        }
        report["stage_vs_raw"]["ttft_overhead_ms"] = round(
            1000 * (report["stage_vs_raw"]["stage"]["ttft_s"] - report["stage_vs_raw"]["raw"]["ttft_s"]), 1
        )
        # 2. tool round trip.
        trips = []
        for _ in range(args.reps):
            llm = ChatLLM(
                base_url=server.base_url,
                tools=[get_weather],
                temperature=0.0,
                context=ContextOptions(
                    system_prompt="You are a voice assistant. Use the tools to answer questions."
                ),
            )
            frames = await run_turns(llm, [tool_prompt])
            start = next(f.pts for f in frames if isinstance(f, EndOfTurn))
            call = next((f.pts for f in frames if isinstance(f, ToolCallRequest)), None)
            result = next((f.pts for f in frames if isinstance(f, ToolCallResult)), None)
            first = next((f.pts for f in frames if isinstance(f, LLMTextDelta)), None)
            end = next(f.pts for f in frames if f.kind == "LLMResponseEnded")
            trips.append(
                {
                    "to_call_s": call and call - start,
                    "to_result_s": result and result - start,
                    "to_first_words_s": first and first - start,
                    "total_s": end - start,
                    "called": call is not None,
                    "answered": first is not None,
                }
            )
        report["tool_round_trip"] = {
            "runs": trips,
            "mean_to_first_words_s": mean([t["to_first_words_s"] for t in trips if t["to_first_words_s"]]),
            "success": sum(t["called"] and t["answered"] for t in trips),
        }
        # 3. prefill vs context length (uncached: a fresh nonce first).
        prefill = {}
        for size in contexts:
            body = text_of_tokens(knowledge, root, model, size)
            runs = []
            for _ in range(1 if size > 4096 else 2):
                messages = [{"role": "user", "content": f"[{uuid.uuid4()}]\n{body}\nSay OK."}]
                runs.append((await raw_stream(client, model, messages, 1))["ttft"])
            prefill[str(size)] = {
                "ttft_s": mean(runs),
                "prefill_tok_s": round(size / statistics.fmean(runs), 1),
            }
        report["prefill_vs_context"] = prefill
        # 4. TTFT at turn 10 with ~4K tokens of knowledge: warm (prefix cache) vs cold.
        facts = text_of_tokens(knowledge, root, model, 4096)
        context = ContextOptions(system_prompt=SYSTEM + f" Session {uuid.uuid4()}.", knowledge=facts)
        llm = ChatLLM(base_url=server.base_url, max_tokens=32, temperature=0.0, context=context)
        per_turn = stage_timings(await run_turns(llm, turns))
        messages = llm.conversation.messages()[:-1]  # the 10th request (without its reply)
        cold_messages = [{"role": "system", "content": "#" + messages[0]["content"]}, *messages[1:]]
        cold = await raw_stream(client, model, cold_messages, 8)
        warm_again = await raw_stream(client, model, messages, 8)
        report["turn10_with_4k_knowledge"] = {
            "ttft_by_turn_s": [round(t["ttft"], 3) for t in per_turn],
            "warm_ttft_s": round(per_turn[-1]["ttft"], 3) if per_turn else None,
            "cold_ttft_s": round(cold["ttft"], 3),
            "warm_raw_ttft_s": round(warm_again["ttft"], 3),
        }
    finally:
        await client.close()
        if server.process is not None:
            await anyio.to_thread.run_sync(server.stop)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    anyio.run(main)
