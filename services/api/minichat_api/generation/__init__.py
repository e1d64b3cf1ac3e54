"""The generation engine: the create and cancel handshake, the runner and its jobs, and the one
owner of SQL on `generations`."""
