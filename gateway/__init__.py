"""The gateway process: the only one that receives Telegram updates; it turns them into work."""
