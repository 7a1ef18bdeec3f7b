"""The ``vpnsmm`` command line (Typer). Shares the container and use cases with HTTP."""
