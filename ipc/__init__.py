"""Messaging between the bot's processes: message types, endpoints, channels, the trio ZeroMQ adapter.

- `ipc.messages`: every message type, encode/decode (the wire format is documented there).
- `ipc.endpoints`: where each channel lives and who binds it.
- `ipc.channels`: typed senders/receivers for each channel (processes never touch frames);
  the job channel and the RPC are implemented in `ipc._jobs` and `ipc._rpc`.
- `ipc.zmqtrio`: awaiting pyzmq sockets natively in trio.
"""
