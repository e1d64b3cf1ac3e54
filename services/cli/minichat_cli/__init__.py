"""The `minichat` command: the composition root that starts every deployable."""
