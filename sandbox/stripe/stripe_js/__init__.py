"""Serves the Stripe.js stand-in: `/v3/` (the script) and the frames it opens, from this folder.

Only the files named in `ASSETS` are served, so a request cannot reach any other file.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

HERE = Path(__file__).parent

SCRIPT = "v3.js"
ASSETS: dict[str, str] = {
    SCRIPT: "text/javascript; charset=utf-8",
    "elements-inner-payment.html": "text/html; charset=utf-8",
    "elements-inner-payment.js": "text/javascript; charset=utf-8",
    "three-d-secure.html": "text/html; charset=utf-8",
    "three-d-secure.js": "text/javascript; charset=utf-8",
    "frames.css": "text/css; charset=utf-8",
}

# The frames hold the card fields; their own policy keeps them script-from-self only. No
# frame-ancestors: any merchant page may embed them, as it may embed Stripe's.
FRAME_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'"
)


def asset_response(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    headers = {
        # The script is loaded cross-origin, with or without `crossorigin`.
        "Access-Control-Allow-Origin": "*",
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if name.endswith(".html"):
        headers["Content-Security-Policy"] = FRAME_CSP
    return Response((HERE / name).read_bytes(), media_type=media_type, headers=headers)


def routes() -> list[BaseRoute]:
    async def script(request: Request) -> Response:
        return asset_response(SCRIPT)

    async def asset(request: Request) -> Response:
        return asset_response(request.path_params["name"])

    return [
        Route("/v3", script, methods=["GET"]),
        Route("/v3/", script, methods=["GET"]),
        Route("/v3/{name}", asset, methods=["GET"]),
    ]
