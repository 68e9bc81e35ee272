"""The embedded demo's data (`flowyard-admin seed_demo`): the top of the layers, it may import every app."""
