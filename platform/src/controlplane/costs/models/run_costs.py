"""What one finished run cost: requested resources × wall time, priced by its runtime target's table."""

from django.db import models

from controlplane.costs.models.prices import CURRENCIES, PRICE_DIGITS, PRICE_PLACES

# Amounts keep ten decimal places: a one-second run of 0.25 vCPU costs about $0.0000028 on Fargate.
AMOUNT_DIGITS, AMOUNT_PLACES = 24, 10


class RunCost(models.Model):
    """The cost of one finished run, with the run's project, team, workflow and day copied for the rollups."""

    run = models.OneToOneField("runs.Run", on_delete=models.CASCADE, primary_key=True, related_name="cost")
    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="+")
    environment_name = models.CharField(max_length=63)
    runtime_target = models.ForeignKey(
        "runtimes.RuntimeTarget", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    runtime_target_name = models.CharField(max_length=63, blank=True)
    runtime_kind = models.CharField(max_length=10, blank=True, help_text="docker, ecs or local; empty if never launched.")
    day = models.DateField(help_text="The UTC date the run ended.")
    vcpu = models.DecimalField(max_digits=16, decimal_places=10, help_text="Requested vCPUs (config cpu / 1024).")
    gib = models.DecimalField(max_digits=16, decimal_places=10, help_text="Requested memory in GiB (config memory / 1024).")
    wall_seconds = models.DecimalField(max_digits=16, decimal_places=6, help_text="started_at → ended_at; 0 if never started.")
    cpu_seconds = models.FloatField(null=True, blank=True, help_text="Measured CPU time, where the runtime reports it.")
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True, help_text="Measured peak memory, where reported.")
    vcpu_hour = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    gib_hour = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    price_source = models.CharField(max_length=500, blank=True, help_text="The price table used, or the default's source.")
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "run_id"]
        indexes = [
            models.Index(fields=["project", "day"], name="runcost_project_day"),
            models.Index(fields=["team", "day"], name="runcost_team_day"),
            models.Index(fields=["workflow", "day"], name="runcost_workflow_day"),
        ]

    def __str__(self) -> str:
        return f"cost of run {self.run_id}: {self.amount} {self.currency}"
