"""The chat-completions request contract: what it accepts, refuses and derives."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from minichat.contracts.inference import ChatCompletionRequest

USER = [{"role": "user", "content": "Hi"}]


def parse(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"messages": USER, **fields})


def test_defaults() -> None:
    request = parse()
    assert request.model is None
    assert request.stream is False
    assert request.token_limit is None
    assert request.stop_sequences == []
    assert request.wants_usage is False


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert parse(max_tokens=5, max_completion_tokens=7).token_limit == 7
    assert parse(max_tokens=5).token_limit == 5


def test_stop_as_string_or_list() -> None:
    assert parse(stop="END").stop_sequences == ["END"]
    assert parse(stop=["a", "", "b"]).stop_sequences == ["a", "b"]


def test_unknown_fields_are_ignored_for_client_compatibility() -> None:
    assert parse(user="u-1", presence_penalty=0.5, logit_bias={}).messages[0].text == "Hi"


def test_integer_temperature_is_a_number() -> None:
    assert parse(temperature=0).temperature == 0.0


def test_text_parts_join() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                }
            ]
        }
    )
    assert request.messages[0].text == "ab"


@pytest.mark.parametrize(
    "fields",
    [
        {"max_tokens": "5"},
        {"max_tokens": True},
        {"stream": 1},
        {"temperature": 2.5},
        {"top_p": 0},
        {"n": 3},
        {"stop": ["a"] * 9},
        {"continue_final_message": True},
    ],
)
def test_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse(**fields)


def test_continuation_needs_the_assistant_last() -> None:
    messages = [*USER, {"role": "assistant", "content": "Hel"}]
    request = ChatCompletionRequest.model_validate(
        {"messages": messages, "continue_final_message": True}
    )
    assert request.continue_final_message
