"""The inference plane: an OpenAI-compatible server streaming tokens from a model."""
