"""`continue_final_message`: the model goes on from the assistant's partial text."""

from __future__ import annotations

from minichat_inference.backends.scripted import scripted_text
from tests.integration.inference.conftest import app_client, inference_settings

QUESTION = {"role": "user", "content": "Hi"}


async def test_scripted_continuation_is_the_rest_of_the_answer() -> None:
    partial = scripted_text(5)
    async with app_client(inference_settings(inference_scripted_tokens=12)) as (http, _app):
        response = await http.post(
            "/v1/chat/completions",
            json={
                "messages": [QUESTION, {"role": "assistant", "content": partial}],
                "continue_final_message": True,
            },
        )
        fresh = await http.post(
            "/v1/chat/completions",
            json={"messages": [QUESTION, {"role": "assistant", "content": partial}]},
        )
    body = response.json()
    # Resumed and uninterrupted generations read the same.
    assert partial + body["choices"][0]["message"]["content"] == scripted_text(12)
    assert body["usage"]["completion_tokens"] == 7
    # Without the flag, an assistant message last is just history: a new answer starts.
    assert fresh.json()["choices"][0]["message"]["content"] == scripted_text(12)


async def test_continuing_a_complete_answer_adds_nothing() -> None:
    done = scripted_text(4)
    async with app_client(inference_settings(inference_scripted_tokens=4)) as (http, _app):
        response = await http.post(
            "/v1/chat/completions",
            json={
                "messages": [QUESTION, {"role": "assistant", "content": done}],
                "continue_final_message": True,
                "stream": True,
            },
        )
    assert response.status_code == 200
    assert response.text.rstrip().endswith("data: [DONE]")
    assert '"content"' not in response.text
