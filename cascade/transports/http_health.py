"""Health endpoints over HTTP for the apps and the WebRTC server.

``/healthz`` is readiness (200 once the agent is prepared, 503 before or when preparation
failed) and ``/livez`` is liveness (200 while the process serves):

>>> import anyio
>>> import httpx
>>> from cascade.readiness import Readiness
>>> app = health_app(Readiness())
>>> async def probe(path):
...     transport = httpx.ASGITransport(app=app)
...     async with httpx.AsyncClient(transport=transport, base_url="http://cascade") as client:
...         response = await client.get(path)
...     return response.status_code, response.json()
>>> anyio.run(probe, "/healthz"), anyio.run(probe, "/livez")
((503, {'status': 'preparing'}), (200, {'status': 'alive'}))
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cascade.readiness import Readiness


def health_routes(readiness: Readiness) -> list[BaseRoute]:
    """``GET /healthz`` (readiness) and ``GET /livez`` (liveness)."""

    async def healthz(_: Request) -> Response:
        status, body = readiness.probe()
        return JSONResponse(body, status_code=status, headers=None if status == 200 else {"Retry-After": "5"})

    async def livez(_: Request) -> Response:
        return JSONResponse({"status": "alive"})

    return [Route("/healthz", healthz, methods=["GET"]), Route("/livez", livez, methods=["GET"])]


def health_app(readiness: Readiness, extra: Sequence[BaseRoute] = ()) -> Starlette:
    """An app with the health endpoints (and ``extra`` routes, e.g. ``/metrics``)."""
    return Starlette(routes=[*health_routes(readiness), *extra])
