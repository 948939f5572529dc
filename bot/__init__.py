"""kehrabot runtime: neutral events, transports, composition root, CLI."""
