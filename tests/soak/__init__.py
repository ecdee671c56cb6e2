"""The chaos soak and the graceful stop: the whole bot under load, kills, stops and faults."""
