"""The control plane: auth, chats, messages and generations over HTTP."""
