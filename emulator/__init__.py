"""Local AWS emulator for the ACME telemetry platform: moto 5.2.5 plus what it lacks.

``python -m emulator start|stop|status`` runs the extended moto server in the background;
``python -m emulator.server`` runs it in the foreground. See README.md in this folder for
what is extended, why, and what the emulator does not prove.

Importing this package does not import moto: the extensions (:mod:`emulator.kafka`,
:mod:`emulator.lambda_esm`, :mod:`emulator.firehose`) are installed by the server process.
"""

from .control import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    Emulator,
    EmulatorError,
    is_healthy,
    running,
    start,
    stop,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Emulator",
    "EmulatorError",
    "is_healthy",
    "running",
    "start",
    "stop",
]
