"""The served chat model as the text end-of-turn reader: real vLLM, and a server that fails."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from cascade.llm.server import EmbeddedServer
from cascade.turn.chat_turn import ChatTurnOptions, ChatTurnReader
from tests.llm.conftest import vllm_server  # noqa: F401


def test_the_served_model_reads_cut_words_as_unfinished_and_whole_ones_as_ended(
    vllm_server: EmbeddedServer,  # noqa: F811
) -> None:
    reader = ChatTurnReader(ChatTurnOptions(base_url=vllm_server.base_url))
    reader.load()  # learns the served name
    try:
        cut = [reader(t, "") for t in ("I'd like to book a table for", "could you tell me whether the")]
        whole = [reader(t, "") for t in ("What time do you close today?", "Thanks, that's all.")]
        assert all(p is not None and p < 0.01 for p in cut), cut
        assert all(p is not None and p > 0.03 for p in whole), whole
        # what the bot asked makes a bare answer a whole message
        asked = reader("Saturday", "Which day would you like to come?")
        assert asked is not None and asked > 0.03
    finally:
        reader.close()


@pytest.fixture
def broken_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server answering every request with a 500 (and counting them)."""
    seen: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_failing_server_gives_no_reading_and_is_left_alone_for_a_while(
    broken_server: tuple[str, list[str]],
) -> None:
    url, seen = broken_server
    reader = ChatTurnReader(ChatTurnOptions(base_url=url, model="m", retry_after=60.0))
    assert reader("I'd like to book a table for", "") is None
    assert reader("another turn", "") is None  # not asked again within retry_after
    assert len(seen) == 1
    reader.close()


def test_a_server_that_never_answers_costs_at_most_the_timeout() -> None:
    with socket.socket() as listener:  # accepts the connection, never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        url = f"http://127.0.0.1:{port}/v1"
        reader = ChatTurnReader(ChatTurnOptions(base_url=url, model="m", timeout=0.2))
        assert reader("are you there", "") is None
        reader.close()
