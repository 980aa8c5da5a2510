"""Serve the WebRTC demo page with your own agent (what ``cascade demo`` does).

    python examples/webrtc_demo/app.py          # then open http://127.0.0.1:8080/?token=...

Any callable returning a fresh :class:`cascade.Pipeline` per call works as the factory; an agent
object's ``prepare()`` runs once at startup so every call shares the loaded models.
"""

from __future__ import annotations

import secrets

import uvicorn

from cascade.agent import VoiceAgent
from cascade.apps.demo import PAGE_DIR
from cascade.transports.webrtc_signaling import WebRTCOptions, WebRTCServer


def main(host: str = "127.0.0.1", port: int = 8080) -> None:
    agent = VoiceAgent()
    token = secrets.token_urlsafe(12)
    server = WebRTCServer(
        agent.pipeline,  # a fresh pipeline per call
        WebRTCOptions(token=token, max_sessions=4),
        page_dir=PAGE_DIR,  # the page shipped in the package; any folder with index.html works
        on_startup=agent.prepare,  # load models / start the embedded LLM once
    )
    print(f"open http://{host}:{port}/?token={token}")
    uvicorn.run(server.app, host=host, port=port)


if __name__ == "__main__":
    main()
