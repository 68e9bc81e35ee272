"""Models of the costs app."""

from controlplane.costs.models.budgets import BudgetCrossing, ProjectBudget
from controlplane.costs.models.prices import PriceTable
from controlplane.costs.models.run_costs import RunCost

__all__ = ["BudgetCrossing", "PriceTable", "ProjectBudget", "RunCost"]
