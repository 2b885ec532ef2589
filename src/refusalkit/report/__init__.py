"""HTML reports: the page parts every refusalkit page is built from (:mod:`refusalkit.report.layout`)
and the run and comparison reports (:mod:`refusalkit.report.html`)."""

from .html import render_compare, render_run, render_sets, tradeoff_figure
from .layout import CSS_MARK, Figures, esc, json_block, page, table, write_page

__all__ = [
    "CSS_MARK",
    "Figures",
    "esc",
    "json_block",
    "page",
    "render_compare",
    "render_run",
    "render_sets",
    "table",
    "tradeoff_figure",
    "write_page",
]
