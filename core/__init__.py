"""Shared parts of the bot: settings, logging, database, texts and the Telegram port."""
