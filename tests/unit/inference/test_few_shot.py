"""The embedded model's prompt: a fixed prefix, the turns, an open assistant line."""

from __future__ import annotations

from minichat.contracts.inference import ChatMessage
from minichat_inference.backends.few_shot import PREFIX, render


def message(role: str, content: str) -> ChatMessage:
    return ChatMessage.model_validate({"role": role, "content": content})


def test_new_turn() -> None:
    prompt = render([message("user", "Hi there")], continue_final_message=False)
    assert prompt.startswith(PREFIX)
    assert prompt.endswith("\nUser: Hi there\nAssistant:")


def test_continuation_leaves_the_assistant_line_open() -> None:
    messages = [message("user", "Capital of France?"), message("assistant", "The capital is ")]
    prompt = render(messages, continue_final_message=True)
    assert prompt.endswith("User: Capital of France?\nAssistant: The capital is")


def test_system_and_blank_lines() -> None:
    messages = [message("system", "Be terse."), message("user", "a\n\nb")]
    prompt = render(messages, continue_final_message=False)
    assert "System: Be terse.\nUser: a\nb\nAssistant:" in prompt
