"""`flowyard ci`: what a CI pipeline is (context.py), what it should do (plan.py), and doing it (commands/ci.py)."""
