"""Django settings profiles: `development` (default), `production`, `test`; all built on `base`."""
