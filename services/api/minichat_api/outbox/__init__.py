"""The transactional outbox's way out: the relay and the publishers it hands rows to."""
