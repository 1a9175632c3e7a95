"""LaTeX tables with booktabs rules, written by hand: pandas' ``to_latex`` needs Jinja2 and escapes only part
of what our cells hold (Δ, ±, underscores in arm names)."""

from __future__ import annotations

import re

import pandas as pd

_NUMBERISH = re.compile(r"[\s\d.+\-−–<±\[\],]*")  # numbers, "1.0 ± 0.2", "[-1.0, +2.0]", "–"

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "−": r"$-$",
    "–": r"--",
    "←": r"$\leftarrow$",
    "×": r"$\times$",
}


def escape(text) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in str(text))


def booktabs(df: pd.DataFrame, caption: str = "", label: str = "", index: bool = True) -> str:
    """A ``table`` environment: left-aligned text columns, right-aligned numeric-looking ones."""
    frame = df.reset_index() if index else df
    cols = [str(c) for c in frame.columns]
    body = [[str(v) for v in row] for row in frame.itertuples(index=False)]
    align = "".join("l" if i == 0 or not _numeric(frame.iloc[:, i]) else "r" for i in range(len(cols)))
    lines = [r"\begin{table}[ht]", r"\centering", r"\small"]
    if caption:
        lines.append(rf"\caption{{{escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(map(escape, cols)) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(map(escape, row)) + r" \\" for row in body]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _numeric(col: pd.Series) -> bool:
    return len(col) > 0 and all(_NUMBERISH.fullmatch(str(v)) for v in col)
