"""/api/docs in real Chromium with the internet cut off: Swagger UI is served by the api."""

from __future__ import annotations

import pytest

from tests.e2e.web.conftest import WebTools, run_script
from tests.processes import Service

pytestmark = pytest.mark.slow


def test_the_api_docs_work_offline(web_tools: WebTools, web_api: Service) -> None:
    run_script(web_tools, "docs.mjs", {"MINICHAT_E2E_URL": web_api.url})
