"""MiniChat's framework-free core: settings, errors, database, contracts shared by every service."""

__version__ = "0.1.0"
