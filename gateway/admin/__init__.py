"""Admin commands, one module per family (sponsors, bans, maintenance); `audit` records each one
and refuses everyone else politely."""
