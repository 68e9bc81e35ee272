#!/usr/bin/env python
"""Django's command-line utility for the Flowyard control plane."""

from controlplane.cli import main

if __name__ == "__main__":
    main()
