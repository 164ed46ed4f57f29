"""The ``retrace`` command line: the operator's and the auditor's view of the service.

``api.cli.main`` assembles the commands (``admin``, ``serve``, ``keys``, ``labels``,
``audit``, ``witness``) into one typer app; ``main`` is the ``retrace`` entry point.
The demo world ``retrace serve --demo`` builds lives here too (``demo``, ``demo_life``,
``demo_data``).
"""

from api.cli.main import app, main

__all__ = ["app", "main"]
