"""Live generation streams, cancel signals and runner heartbeats, shared by every api process."""

from minichat_api.streams.base import GenerationStreams, StreamEvent, valid_event_id

__all__ = ["GenerationStreams", "StreamEvent", "valid_event_id"]
