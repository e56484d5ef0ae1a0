"""Gateway policy: what sessions may ask for, what the gateway imposes, and per-key quotas."""
