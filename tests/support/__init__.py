"""What the suites share: the bot under test, polling to a deadline, the sandbox's chat views."""
