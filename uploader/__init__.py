"""The uploader process: the only one that sends to Telegram, within Telegram's limits."""
