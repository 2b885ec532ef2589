"""The ``refusalkit`` command line. Each module of this package registers the commands of one area;
commands stay thin: they parse options, call the library and print."""

from __future__ import annotations

import os
import sys

from .app import app
from . import models as _models  # noqa: F401  (registers commands)
from . import eval as _eval  # noqa: F401
from . import benchmarks as _benchmarks  # noqa: F401  (registers commands)
from . import judge as _judge  # noqa: F401  (registers commands)
from . import internals as _internals  # noqa: F401
from . import evolve as _evolve  # noqa: F401  (registers commands)
from . import predictor as _predictor  # noqa: F401  (predictor train|apply|explain)
from . import train as _train  # noqa: F401  (align, mitigate, triggers, study)
from . import audit as _audit  # noqa: F401  (audit, poison)
from . import tokens as _tokens  # noqa: F401  (refusal-tokens sweep)
from . import mogu as _mogu  # noqa: F401  (mogu train)


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 1."""
    from ..errors import RefusalkitError

    debug = "--debug" in sys.argv or bool(os.environ.get("REFUSALKIT_DEBUG"))
    try:
        app()
    except RefusalkitError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # anything unexpected: one line unless --debug
        if debug:
            raise
        print(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)


__all__ = ["app", "main"]
