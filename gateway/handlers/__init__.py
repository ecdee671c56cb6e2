"""The gateway's handlers, one module per concern; `gateway.router` merges their tables."""
