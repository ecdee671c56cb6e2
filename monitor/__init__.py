"""The monitor process: heartbeats and metrics of every process, /healthz, alerts to admins."""
