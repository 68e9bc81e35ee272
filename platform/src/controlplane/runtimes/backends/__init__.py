"""Runtime backends: one module each, all implementing `base.RuntimeBackend`."""
