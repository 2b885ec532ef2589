"""HTML reports built from run records (see :mod:`refusalkit.report.html`)."""
from .html import render_compare, render_run, tradeoff_figure

__all__ = ["render_compare", "render_run", "tradeoff_figure"]
