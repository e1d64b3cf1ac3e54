"""Serves the built web UI (web/dist) from the api's own origin, with the SPA's fallback.

Mounted last, at `/`, only when `WEB_DIST_DIR` names a directory holding an index.html: any
path that is not an api route and not a file gets index.html, so /chat/<id> survives a reload;
paths under /api keep their JSON 404.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from minichat_api.settings import ApiSettings

logger = logging.getLogger(__name__)

_API_PREFIXES = ("api/", "api")
# Built assets carry a content hash in their names: cache them for good, never index.html.
_IMMUTABLE = "public, max-age=31536000, immutable"
_NO_CACHE = "no-cache"


class SpaStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.startswith(_API_PREFIXES):
            raise HTTPException(status_code=404)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or _looks_like_file(path):
                raise
            response = await super().get_response("index.html", scope)
        if response.status_code == 200:
            cached = path.startswith("assets/")
            response.headers["Cache-Control"] = _IMMUTABLE if cached else _NO_CACHE
        return response


def _looks_like_file(path: str) -> bool:
    """`assets/app.js` is a missing file (404); `chat/123` is a page of the app."""
    return "." in path.rsplit("/", 1)[-1]


def mount_web_ui(app: FastAPI, settings: ApiSettings) -> None:
    if not settings.web_dist_dir:
        return
    directory = Path(settings.web_dist_dir)
    if not (directory / "index.html").is_file():
        logger.warning("WEB_DIST_DIR=%s has no index.html; not serving the web UI", directory)
        return
    app.mount("/", SpaStaticFiles(directory=directory, html=True), name="web")
