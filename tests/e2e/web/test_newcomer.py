"""What a newcomer meets in the web UI, in real Chromium against a real api whose answers stop
at a token limit: web/e2e/newcomer.mjs drives it (#23's items 5 and 7, #21's web items)."""

from __future__ import annotations

import pytest

from minichat_inference.backends.scripted import scripted_text
from tests.e2e.web.conftest import (
    ARTIFACTS,
    SCRIPTED_TOKENS,
    SHORT_ANSWER_TOKENS,
    WebTools,
    run_script,
)
from tests.processes import Service

pytestmark = pytest.mark.slow


def test_what_a_newcomer_meets(web_tools: WebTools, short_answers_api: Service) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run_script(
        web_tools,
        "newcomer.mjs",
        {
            "MINICHAT_E2E_URL": short_answers_api.url,
            "MINICHAT_E2E_ANSWER": scripted_text(SCRIPTED_TOKENS),
            "MINICHAT_E2E_CUT": scripted_text(SHORT_ANSWER_TOKENS),
            "MINICHAT_E2E_ARTIFACTS": str(ARTIFACTS),
        },
    )
