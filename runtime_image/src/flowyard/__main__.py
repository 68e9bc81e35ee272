"""`python -m flowyard run ...`: the runner entrypoint of every workflow image."""

from flowyard.runner.cli import exit_with, main

if __name__ == "__main__":
    exit_with(main())
