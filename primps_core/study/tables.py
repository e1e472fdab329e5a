"""Key-number tables: what each notebook ends with and what the README's result sections show.

Each notebook's study module has a ``key_tables(figures_dir)`` that reads the files a run wrote
(``figures/*.csv``, ``*.json``) and returns named tables of formatted values; the notebook prints
them (``text``) and ``readme`` writes them into README.md (``markdown``), so a number quoted in
either place comes from one file through one function and cannot go stale unnoticed.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..paths import read_csv

Table = list[dict]


def number(value, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals and thousands separators; "n/a" for NaN or None."""
    if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
        return "n/a"
    text = f"{float(value):,.{digits}f}"
    return text[1:] if text.startswith("-") and not float(text.replace(",", "")) else text     # no "-0.00"


def plus_minus(mean, std, digits: int = 2) -> str:
    """``mean ± std`` with ``digits`` decimals (the std omitted when it is NaN: a single value)."""
    if std is None or not np.isfinite(std):
        return number(mean, digits)
    return f"{number(mean, digits)} ± {number(std, digits)}"


def interval(effect, low, high, digits: int = 2) -> str:
    """``effect [low, high]`` with signs and ``digits`` decimals (an effect with its 95% interval)."""
    return f"{float(effect):+.{digits}f} [{float(low):+.{digits}f}, {float(high):+.{digits}f}]"


def p_value(p) -> str:
    """A p-value to two significant digits; "n/a" when missing."""
    return "n/a" if p is None or p == "" or not np.isfinite(float(p)) else f"{float(p):.2g}"


def percent(fraction, digits: int = 0) -> str:
    return f"{100 * float(fraction):.{digits}f}%"


def csv_rows(path: Path) -> list[dict]:
    """A CSV of ``paths.write_csv`` as rows, numbers as floats."""
    columns = read_csv(path)
    return [{key: values[i] for key, values in columns.items()} for i in range(len(next(iter(columns.values()))))]


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def _cells(rows: Table) -> tuple[list[str], list[list[str]]]:
    columns = list(rows[0]) if rows else []
    return columns, [[str(row.get(column, "")) for column in columns] for row in rows]


def markdown(rows: Table) -> str:
    """A GitHub markdown table of ``rows`` (the keys of the first row are the columns)."""
    columns, cells = _cells(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(line) + " |" for line in cells])


def text(tables: dict[str, Table]) -> str:
    """Named tables as aligned plain text, for a notebook's last cell."""
    blocks = []
    for name, rows in tables.items():
        columns, cells = _cells(rows)
        widths = [max(len(line[k]) for line in [columns] + cells) for k in range(len(columns))]
        lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip()
                 for line in [columns] + cells]
        blocks.append("\n".join([name, "-" * len(name)] + lines))
    return "\n\n".join(blocks)
