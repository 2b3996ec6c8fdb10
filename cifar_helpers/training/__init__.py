"""Training and measuring a Model: the loop and its events, plugins, checkpoints, metrics and plots."""
