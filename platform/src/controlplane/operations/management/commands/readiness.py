"""`flowyard-admin readiness` (and `flowyard-admin check`, which runs Django's system checks first)."""

from django.core.management.base import BaseCommand, CommandError
from typing_extensions import override

from controlplane.operations.checks import readiness


class Command(BaseCommand):
    """Print the /readyz checks, one line each; exit 1 when any fails."""

    help = (
        "Check that the database, the broker and every runtime target answer (the checks of /readyz): prints "
        "'ok   <check> (<ms> ms)' or 'FAIL <check>: <detail>' per check and exits 0 when all pass, 1 otherwise. "
        "The name 'check' is Django's system check, so this command is 'readiness'; 'flowyard-admin check' runs "
        "Django's system checks and then this."
    )

    @override
    def handle(self, *args, **options):
        result = readiness()
        for name, check in result.checks.items():
            if check.ok:
                self.stdout.write(f"ok   {name} ({check.seconds * 1000:.0f} ms)")
            else:
                self.stdout.write(f"FAIL {name}: {check.detail}")
        if not result.ok:
            failed = sum(not check.ok for check in result.checks.values())
            raise CommandError(f"{failed} of {len(result.checks)} readiness checks failed", returncode=1)
