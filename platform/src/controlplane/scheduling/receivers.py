"""Receivers of run signals: what scheduling does when a run ends (downstream runs start in `upstream`)."""
