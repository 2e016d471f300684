"""Numbers and moments as the page shows them. Plain text: the templates escape it."""

from __future__ import annotations

from typing import Any


def show(value: Any) -> str:
    """A value for a table cell or a sentence: None as a dash, integers with thousands
    separators, other numbers to two decimals, anything else as its text."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def short(value: float | None) -> str:
    """A number for a sentence: no needless decimals (2, not 2.00)."""
    return "–" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def moment(value: str | None) -> str | None:
    """'2026-12-02 07:39:32.567757' as '2026-12-02 07:39:32': seconds are enough to read."""
    return value[:19] if isinstance(value, str) else value


def p_value_text(p: float | None) -> str:
    return "–" if p is None else "<0.001" if p < 0.001 else f"{p:.3f}"


SERIES_NAMES = {"plays": "plays", "active_users": "active users", "paid_users": "paid subscribers"}


def model_name(model: str | None) -> str:
    """'seasonal_naive' as 'seasonal naive', 'holt_winters' as 'Holt-Winters'."""
    return {"holt_winters": "Holt-Winters"}.get(model or "", (model or "–").replace("_", " "))
