"""The supervisor behind `run.py`: starts, watches, restarts and stops the bot's processes."""
