"""What the turn benchmarks run: the text end-of-turn model and the turn options under test.

Shared by ``benchmarks/turns.py`` and ``benchmarks/turn_curve.py``:

* ``--text-model smollm2`` (the in-process SmolLM2-135M) or ``chat`` (the served chat model's
  end-of-message probability, :class:`cascade.turn.chat_turn.ChatTurnReader`, at ``--llm-url``);
* ``--set endpointing.uncertain_delay=0.8`` (repeatable): any turn option, by its dotted path;
* ``--variants``: the ablations to run beside ``ours``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cascade.turn import TurnOptions

TEXT_MODELS = {
    "smollm2": "SmolLM2-135M-Instruct, CTranslate2 int8 (final transcripts)",
    "chat": "the served chat model's end-of-message probability (final transcripts)",
}
VARIANTS = ("ours_without_text_model", "ours_no_transcript_cues", "ours_without_smart_turn")


def add_setup_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose what is measured."""
    parser.add_argument("--text-model", choices=tuple(TEXT_MODELS), default="chat")
    parser.add_argument(
        "--llm-url", default=None, help="the chat model's server for --text-model chat (default: embedded)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="a turn option, e.g. endpointing.uncertain_delay=0.8 (repeatable)",
    )
    parser.add_argument(
        "--variants",
        type=lambda v: [x for x in v.split(",") if x],
        default=list(VARIANTS),
        help=f"ablations beside ours, comma-separated (default all: {','.join(VARIANTS)}; '' for none)",
    )


def turn_options(settings: list[str], base: TurnOptions | None = None) -> TurnOptions:
    """``base`` (default options) with each ``path=value`` applied; values are JSON where they
    parse as JSON, strings otherwise.

    >>> turn_options(["endpointing.uncertain_delay=0.8"]).endpointing.uncertain_delay
    0.8
    """
    data: dict[str, Any] = (base or TurnOptions()).model_dump()
    for setting in settings:
        path, sep, raw = setting.partition("=")
        if not sep:
            raise SystemExit(f"--set {setting!r}: expected PATH=VALUE")
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise SystemExit(f"--set {setting!r}: no option group {part!r}")
            node = node[part]
        if leaf not in node:
            raise SystemExit(f"--set {setting!r}: no option {leaf!r}")
        try:
            node[leaf] = json.loads(raw)
        except json.JSONDecodeError:
            node[leaf] = raw
    return TurnOptions.model_validate(data)


def text_reader(args: argparse.Namespace) -> Any:
    """The text end-of-turn model ``--text-model`` names."""
    if args.text_model == "smollm2":
        from cascade.turn.text_turn import TextTurnDetector

        return TextTurnDetector()
    if args.text_model == "chat":
        from cascade.llm.server import get_or_start_server
        from cascade.turn.chat_turn import ChatTurnOptions, ChatTurnReader

        url = args.llm_url
        if url is None:
            server = get_or_start_server()
            url, model = server.base_url, server.served_name()
        else:
            import httpx

            model = httpx.get(url.rstrip("/") + "/models", timeout=10).json()["data"][0]["id"]
        return ChatTurnReader(ChatTurnOptions(base_url=url, model=model, timeout=5.0))
    raise SystemExit(f"unknown --text-model {args.text_model!r}")


def load_models(args: argparse.Namespace) -> tuple[Any, Any]:
    """Smart Turn and the ``--text-model`` reader, loaded and timed (answers remembered)."""
    from turn_replay import TimedModel

    from cascade.turn.smart_turn import SmartTurnDetector

    detector, reader = TimedModel(SmartTurnDetector()), TimedModel(text_reader(args))
    detector.load()
    reader.load()
    return detector, reader
