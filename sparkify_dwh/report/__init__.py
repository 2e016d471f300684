"""The dashboard report.py writes: panels (panels.py), their numbers (numbers.py, document.py),
their charts (charts.py) and the page (page.py, templates/, static/)."""
