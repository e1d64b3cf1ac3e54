"""Every table MiniChat stores; importing this package registers them all on `Base.metadata`."""

from minichat.db.base import Base
from minichat.db.models.chats import Chat, Message
from minichat.db.models.events import AuditLogEntry, OutboxEvent, ProcessedEvent, UsageDaily
from minichat.db.models.generations import Generation
from minichat.db.models.users import LoginFailure, RefreshToken, User

__all__ = [
    "AuditLogEntry",
    "Base",
    "Chat",
    "Generation",
    "LoginFailure",
    "Message",
    "OutboxEvent",
    "ProcessedEvent",
    "RefreshToken",
    "UsageDaily",
    "User",
]
