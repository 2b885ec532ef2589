"""Prompt sets: loaders for files and datasets, and the suites bundled with refusalkit (``suites/``)."""

from .loaders import bundled_suites, load_prompts

__all__ = ["bundled_suites", "load_prompts"]
