"""Django settings of the control plane image (installed as `flowyard_container_settings`, DJANGO_SETTINGS_MODULE).

The profile is the one FLOWYARD_MODE names: `production` (the image's default) or `development`. One thing differs
from the packaged profiles: STATIC_ROOT. They put static files under FLOWYARD_DATA_DIR, which in a container is a
volume mounted at run time; the image collects them at build time into /opt/flowyard/static instead, so that
WhiteNoise serves them from the read-only image and a new image never serves an old volume's files.
"""

import os

if os.environ.get("FLOWYARD_MODE", "production") == "development":
    from controlplane.settings.development import *  # noqa: F401,F403
else:
    from controlplane.settings.production import *  # noqa: F401,F403

STATIC_ROOT = "/opt/flowyard/static"
