"""`flowyard-admin serve`: migrate if needed and serve the control plane on loopback."""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from typing_extensions import override


class Command(BaseCommand):
    """Serve the control plane (development server; put a WSGI server such as gunicorn in front in production)."""

    help = "Apply migrations and serve Flowyard on 127.0.0.1:8000 (or the address given)."

    @override
    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-migrate", action="store_true", help="Do not apply migrations first.")

    @override
    def handle(self, *args, addrport: str, no_migrate: bool, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        call_command("runserver", addrport, use_reloader=False)
