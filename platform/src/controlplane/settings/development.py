"""Development profile (the default): the base settings as the environment gives them."""

from controlplane.settings.base import *  # noqa: F401,F403
