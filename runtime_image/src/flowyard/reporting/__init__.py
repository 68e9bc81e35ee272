"""Reporting run events to the control plane: a batching HTTP reporter and the sink that feeds it."""

from flowyard.reporting.reporter import Reporter
from flowyard.reporting.sink import ReportingSink

__all__ = ["Reporter", "ReportingSink"]
