"""The Typer application object and options shared by several commands."""

from __future__ import annotations

import functools
import inspect
from typing import Callable, List, Optional

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
MODEL = typer.Option(
    ..., "--model", "-m", help="Alias (see `refusalkit models`), local folder, hub id, or openai:NAME."
)
ADAPTER = typer.Option(None, "--adapter", help="LoRA adapter folder to apply to a local model.")


def _openai_parameters() -> list[inspect.Parameter]:
    """The options of :func:`openai_options`, as parameters typer reads from a command's signature."""
    from ..targets.openai import DEFAULT_CONCURRENCY, DEFAULT_RETRIES, DEFAULT_TIMEOUT

    options = [
        (
            "base_url",
            Optional[List[str]],
            typer.Option(
                None,
                "--base-url",
                help="openai: models: base URL of the OpenAI-compatible server (default $OPENAI_BASE_URL). Several replicas: repeat the option or separate URLs with commas; requests go to the least busy one, and one that fails is retried on another.",
            ),
        ),
        (
            "api_key",
            Optional[str],
            typer.Option(None, "--api-key", help="openai: models: API key (default $OPENAI_API_KEY)."),
        ),
        (
            "timeout",
            float,
            typer.Option(
                DEFAULT_TIMEOUT,
                "--timeout",
                min=0.001,
                help="openai: models: seconds one prompt may take in all, retries and waits included.",
            ),
        ),
        (
            "retries",
            int,
            typer.Option(
                DEFAULT_RETRIES,
                "--retries",
                min=0,
                help="openai: models: retries of a failed request (429, 5xx, broken answers) within --timeout.",
            ),
        ),
        (
            "concurrency",
            int,
            typer.Option(
                DEFAULT_CONCURRENCY,
                "--concurrency",
                min=1,
                help="openai: models: requests in flight at once on each endpoint.",
            ),
        ),
    ]
    return [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=ann)
        for name, ann, opt in options
    ]


def openai_options(command: Callable) -> Callable:
    """Give a command the options of ``openai:`` models (``--base-url``, ``--api-key``, ``--timeout``,
    ``--retries``, ``--concurrency``); it receives them as one ``client: ClientSettings`` argument.

    Every command that can talk to an OpenAI-compatible server uses this, so they share one option set.
    """
    from ..targets.openai import ClientSettings, split_base_urls

    sig = inspect.signature(command)
    extra = _openai_parameters()
    names = [p.name for p in extra]
    params = [p for p in sig.parameters.values() if p.name != "client"]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {n: kwargs.pop(n) for n in names}
        # ClientSettings keeps the endpoints as one comma-separated string, the form $OPENAI_BASE_URL takes too
        values["base_url"] = ",".join(split_base_urls(values["base_url"])) or None
        client = ClientSettings(**values)
        return command(*args, client=client, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**getattr(command, "__annotations__", {}), **{p.name: p.annotation for p in extra}}
    wrapper.__annotations__.pop("client", None)
    return wrapper


def target_from_options(model: str, adapter: Optional[str] = None, client=None):
    """Load the target named on the command line (``client``: the :func:`openai_options` settings);
    HTTP targets are checked for reachability first."""
    from ..targets import load_target
    from ..targets.openai import ClientSettings

    target = load_target(model, adapter=adapter, **(client or ClientSettings()).target_kwargs())
    if hasattr(target, "check"):
        unreachable = target.check()
        if unreachable:
            typer.echo(
                f"warning: cannot reach {', '.join(unreachable)}; requests go to the other endpoints "
                "until it answers again",
                err=True,
            )
    return target
