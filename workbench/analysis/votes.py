"""Label tables -> vote distributions, and each row's theme: what every analysis starts from."""
from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.tables import VOTE_COLUMN

def vote_distributions(table: pd.DataFrame) -> np.ndarray:
    """The normalised vote distributions ``v1..vK`` of a label table -> float64[N, K] (rows sum to 1)."""
    num_bins = table.attrs.get("num_bins")
    if num_bins is None:
        num_bins = sum(1 for column in table.columns if VOTE_COLUMN.fullmatch(str(column)))
    columns = [f"v{k}" for k in range(1, int(num_bins) + 1)]
    missing = [column for column in columns if column not in table.columns]
    if not columns or missing:
        raise ValueError(f"table lacks the vote columns {missing or 'v1..vK'} of a label table")
    votes = table[columns].to_numpy(dtype=np.float64)
    totals = votes.sum(axis=1, keepdims=True)
    if np.any(~np.isfinite(votes)) or np.any(votes < 0) or np.any(totals <= 0):
        bad = int(np.flatnonzero(~np.isfinite(votes).all(axis=1) | (votes < 0).any(axis=1) | (totals[:, 0] <= 0))[0])
        raise ValueError(f"table row {bad} (image_id {table['image_id'].iloc[bad] if 'image_id' in table else bad}) "
                         "has votes that are negative, not finite or all zero")
    return votes / totals


def table_theme_ids(table: pd.DataFrame) -> np.ndarray:
    """int64[N]: each row's theme id (-1 = none); ValueError naming the column when a table lacks it."""
    if "theme_id" not in table.columns:
        raise ValueError("table has no 'theme_id' column (a label table; -1 = no theme)")
    return table["theme_id"].to_numpy(dtype=np.int64)


def table_theme_name(table: pd.DataFrame, theme_id: int) -> str | None:
    """The name of ``theme_id`` from the table's ``theme_names`` attribute or its ``theme`` column, else None."""
    names = table.attrs.get("theme_names") or []
    if 0 <= theme_id < len(names):
        return names[theme_id]
    if "theme" in table.columns:
        found = table.loc[table["theme_id"] == theme_id, "theme"]
        if len(found) and isinstance(found.iloc[0], str):
            return found.iloc[0]
    return None
