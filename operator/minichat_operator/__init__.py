"""The Kopf operator: reconciles a MiniChat resource into the objects that run it."""
