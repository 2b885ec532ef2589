"""The Typer application object and options shared by several commands."""
from __future__ import annotations

from typing import Optional

import typer

app = typer.Typer(
    name="refusalkit",
    help="Measure, explain and fix over-refusal in safety-aligned language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    """Declares ``--debug`` for the help text; ``refusalkit.cli.main`` reads the flag from argv, because
    it must know it while handling an error raised before or outside any command."""


# Options reused by every command that takes a model.
MODEL = typer.Option(..., "--model", "-m", help="Alias (see `refusalkit models`), local folder, hub id, or openai:NAME.")
ADAPTER = typer.Option(None, "--adapter", help="LoRA adapter folder to apply to a local model.")
BASE_URL = typer.Option(None, "--base-url", help="Base URL of an OpenAI-compatible server (default $OPENAI_BASE_URL).")
API_KEY = typer.Option(None, "--api-key", help="API key for openai: targets (default $OPENAI_API_KEY).")


def target_from_options(model: str, adapter: Optional[str] = None, base_url: Optional[str] = None, api_key: Optional[str] = None):
    """Load the target named on the command line; HTTP targets are checked for reachability first."""
    from ..targets import load_target

    target = load_target(model, adapter=adapter, base_url=base_url, api_key=api_key)
    if hasattr(target, "check"):
        target.check()
    return target
