"""AgentConfig: file, environment and overrides; clear errors for bad config."""

from __future__ import annotations

from pathlib import Path

import pytest

from cascade.agent import AgentConfig, AgentError, VoiceAgent
from cascade.agent.agent import load_tool, read_knowledge
from cascade.agent.config import ConfigError


def test_defaults_are_the_embedded_stack() -> None:
    config = AgentConfig()
    assert config.llm.base_url is None and config.asr.model == "tiny.en" and config.tts.engine == "hibari"


def test_precedence_overrides_beat_environment_beat_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[llm]\nbase_url = "http://file:8000/v1"\nmodel = "from-file"\nsystem_prompt = "file prompt"\n'
        '[asr]\nmodel = "base"\n'
    )
    monkeypatch.setenv("CASCADE_LLM__MODEL", "from-env")
    monkeypatch.setenv("CASCADE_TTS__ENGINE", "piper")
    config = AgentConfig.load(path, **{"llm.base_url": "http://flag:9000/v1"})
    assert config.llm.base_url == "http://flag:9000/v1"
    assert config.llm.model == "from-env"
    assert config.llm.system_prompt == "file prompt"
    assert config.asr.model == "base"
    assert config.tts.engine == "piper"


def test_json_config_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "agent.json"
    good.write_text('{"greeting": "Hello!", "turn": {"endpointing": {"max_delay": 3.0}}}')
    config = AgentConfig.load(good)
    assert config.greeting == "Hello!" and config.turn.endpointing.max_delay == 3.0
    broken = tmp_path / "broken.toml"
    broken.write_text("[llm\nmodel = ")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        AgentConfig.load(broken)
    with pytest.raises(ConfigError, match="not found"):
        AgentConfig.load(tmp_path / "missing.toml")
    typo = tmp_path / "typo.toml"
    typo.write_text("[llm]\nbase_ulr = 'x'\n")
    with pytest.raises(ValueError, match="base_ulr"):
        AgentConfig.load(typo)


def test_tools_and_knowledge_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match=r"package\.module:function"):
        load_tool("no_colon")
    with pytest.raises(AgentError, match="cannot import"):
        load_tool("does.not.exist:fn")
    with pytest.raises(AgentError, match="no tool 'nope'"):
        load_tool("json:nope")
    assert load_tool("json:dumps") is not None
    with pytest.raises(AgentError, match="knowledge file not found"):
        read_knowledge([tmp_path / "faq.md"], "")
    faq = tmp_path / "faq.md"
    faq.write_text("Open 9 to 5.")
    assert read_knowledge([faq], "Closed Sundays.") == "## faq.md\nOpen 9 to 5.\n\nClosed Sundays."


def test_agent_builds_a_type_checked_pipeline_without_loading_models() -> None:
    agent = VoiceAgent(AgentConfig(greeting="Hi!", llm={"base_url": "http://127.0.0.1:9/v1", "model": "m"}))
    pipeline = agent.pipeline()
    names = [stage.name for stage in pipeline.stages]
    assert names == [
        *["Greeter", "SileroVAD", "WhisperASR", "TurnTaker"],
        *["ChatLLM", "HibariTTS"],
    ]


def test_openai_tts_needs_a_url_before_anything_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASCADE_TTS__ENGINE", "openai")
    with pytest.raises(ConfigError) as caught:
        AgentConfig.load()
    assert str(caught.value) == (
        "config error: tts = {'engine': 'openai'} (from env CASCADE_TTS__ENGINE): "
        "Value error, engine 'openai' needs base_url (the speech server's /v1 URL)"
    )


@pytest.mark.anyio
async def test_the_served_chat_model_reads_the_end_of_turn_unless_configured_otherwise() -> None:
    from cascade.turn.chat_turn import ChatTurnReader
    from cascade.turn.taker import TurnTaker

    def text_model(agent: VoiceAgent) -> object:
        (turn,) = [s for s in agent.pipeline().stages if isinstance(s, TurnTaker)]
        return turn.text_model

    assert AgentConfig().text_turn == "chat"
    offline = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}
    assert text_model(VoiceAgent(AgentConfig(text_turn="none", llm=offline))) is None
    with pytest.raises(ValueError, match="text_turn"):
        AgentConfig(text_turn="gpt")
    # prepared, the agent reads turns through its own LLM endpoint (nothing listens here: the
    # reader answers None, and the turn is judged without the text)
    agent = VoiceAgent(AgentConfig(llm=offline))
    agent._load_models = lambda: None  # type: ignore[method-assign]  # the other models: not needed
    await agent.prepare()
    reader = agent.shared_models()["text_turn"]
    assert isinstance(reader, ChatTurnReader) and reader.options.base_url == offline["base_url"]
    assert reader("I'd like to book a table for", "") is None
