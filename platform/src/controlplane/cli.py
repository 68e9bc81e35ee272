"""`flowyard-admin`: manage.py for the control plane, plus `serve`.

`flowyard-admin check`, given alone, runs Django's system checks and then `readiness` (the database, the broker and
every runtime target answer: the checks of /readyz); it exits 1 when either fails. With options (`--deploy`,
`--tag`, `--fail-level`, …) it is Django's check only: a configuration check that needs no broker or runtime.
`--deploy` adds Flowyard's deployment checks (controlplane.operations.deploy_checks; one reads the runtime targets
from the database) and exits 1 on any error.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run a Django management command (`flowyard-admin migrate`, `createsuperuser`, `serve`, ...)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.development")
    # Everything below reads the settings module named above, so it is imported only once that is set.
    from controlplane.config import ConfigError

    try:
        import django
        from django.core.management import execute_from_command_line

        from controlplane.startup import prepare_process

        django.setup()
        prepare_process()  # data folders and OpenAPI extensions, before any command connects or serves
        args = list(sys.argv[1:] if argv is None else argv)
        if args == ["check"]:
            execute_from_command_line(["flowyard-admin", *args])  # Django's system checks (exit 1 on errors)
            args = ["readiness"]
        execute_from_command_line(["flowyard-admin", *args])
    except ConfigError as exc:
        sys.exit(f"flowyard-admin: configuration error: {exc}")


if __name__ == "__main__":
    main()
