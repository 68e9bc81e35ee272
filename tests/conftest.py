"""Fixtures shared by the whole suite."""

import os

# The suite writes its SQLite files and static files under a throwaway directory, never var/.
os.environ.setdefault("FLOWYARD_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test"))
