"""A local, faithful stand-in for Telegram's Bot API, with simulated users, sample media and faults.

Run it alone with `python -m sandbox --port N`, or in-process with
`url = await nursery.start(serve, 0, data_dir)`.
"""

from sandbox.server import serve as serve

__all__ = ["serve"]
