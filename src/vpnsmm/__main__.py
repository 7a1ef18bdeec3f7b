"""``python -m vpnsmm`` is the same as the ``vpnsmm`` command."""

from vpnsmm.entrypoints.cli.main import main

main()
