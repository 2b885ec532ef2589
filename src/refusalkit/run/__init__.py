"""Evaluation runs: the shared generate → judge → store loop, the SQLite run store, early stop."""

from .evaluate import EarlyStop, early_stop_default, evaluate, judge_safely, load_run, write_outputs
from .store import RunStore, params_hash

__all__ = [
    "EarlyStop",
    "early_stop_default",
    "RunStore",
    "evaluate",
    "judge_safely",
    "load_run",
    "params_hash",
    "write_outputs",
]
