"""Receivers of lower apps' signals: a version registered by CI completes the merge-request promotions that
waited for its build."""
