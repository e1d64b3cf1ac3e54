"""Pure renderers: a MiniChat in, the Kubernetes objects that run it out (plain dicts, no I/O),
one module per component."""

from minichat_operator.render.manifest import Manifest, render, to_yaml
from minichat_operator.render.secrets import GeneratedSecrets

__all__ = ["GeneratedSecrets", "Manifest", "render", "to_yaml"]
