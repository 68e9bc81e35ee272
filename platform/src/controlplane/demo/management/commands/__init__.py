"""`flowyard-admin seed_demo`."""
