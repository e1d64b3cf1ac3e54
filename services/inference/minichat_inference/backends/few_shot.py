"""The prompt for the embedded base model: a fixed few-shot "User:/Assistant:" conversation, then
the request's turns. A base model given its own turn markup rambles; given this, and stopped at the
next turn or blank line, it answers in a sentence or two. The fixed part comes first, so llama.cpp
reuses its KV cache from one request to the next.
"""

from __future__ import annotations

from collections.abc import Sequence

from minichat.contracts.inference import ChatMessage

PREFIX = """\
The following is a conversation between a curious user and a helpful, knowledgeable assistant. \
The assistant answers briefly and accurately.

User: Hello! Who are you?
Assistant: Hello! I am a helpful assistant. How can I help you today?
User: What is the boiling point of water at sea level?
Assistant: Water boils at 100 degrees Celsius (212 degrees Fahrenheit) at sea level.
User: Can you name three primary colors?
Assistant: Red, blue and yellow are the three traditional primary colors.
"""
STOP = ["\nUser:", "\nAssistant:", "\nSystem:", "\n\n"]
_SPEAKERS = {"system": "System", "developer": "System", "user": "User", "assistant": "Assistant"}


def render(messages: Sequence[ChatMessage], *, continue_final_message: bool) -> str:
    """The whole prompt. Continuing leaves the last assistant line open instead of starting a
    new `Assistant:` turn."""
    lines = [f"{_SPEAKERS[m.role]}: {_one_paragraph(m.text)}" for m in messages]
    if continue_final_message:
        # The open line must end exactly where the text does, or the continuation's spacing
        # (and its first token) change.
        last = messages[-1]
        lines[-1] = f"Assistant: {_one_paragraph(last.text)}" if last.text else "Assistant:"
        return PREFIX + "\n".join(lines)
    return PREFIX + "\n".join(lines) + "\nAssistant:"


def _one_paragraph(text: str) -> str:
    # A blank line inside a turn would read as the end of the conversation, so it would stop
    # the model at once; keep the words, drop the gap.
    return "\n".join(line for line in text.strip().splitlines() if line.strip())
