"""Process-wide logging: one line per record on stderr, at LOG_LEVEL."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT, force=True)
    # Per-request access lines come from uvicorn; the libraries below are chatty at INFO.
    for noisy in ("sqlalchemy.engine",):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
