"""Live generation streams, cancel signals and runner heartbeats, shared by every api process."""

from minichat_api.streams.base import (
    GenerationStreams,
    StreamEvent,
    entry_key,
    events_after,
    valid_event_id,
)

__all__ = ["GenerationStreams", "StreamEvent", "entry_key", "events_after", "valid_event_id"]
