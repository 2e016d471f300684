"""The page: one self-contained HTML file from the --json document. Each panel's template (in
templates/) is rendered in the order of PANELS, Jinja2 escaping every value; the style
(static/style.css), Vega's JavaScript and the script that draws the charts (static/embed.js) are
inlined, and the charts' specs are one JSON script element, so the page opens with no network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from sparkify_dwh.errors import DwhError

from . import text
from .charts import Spec
from .numbers import json_default
from .panels import PANELS, Panel

HERE = Path(__file__).parent
STATIC = HERE / "static"


def environment() -> jinja2.Environment:
    """The templates, escaping every value (autoescape), failing on any name they do not have."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(show=text.show, short=text.short, percent=text.percent)
    return env


def script_json(document: Any) -> str:
    """JSON safe inside a <script> element: no '</script>', '<!--' or line separators can occur."""
    shown = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=json_default)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        shown = shown.replace(char, escaped)
    return shown


def inlined(code: str, element: str) -> Markup:
    """Code trusted as it is (the package's own files, Vega's bundle), refused if it could end its
    element early."""
    if f"</{element}" in code.lower() or "<!--" in code:
        raise DwhError(f"cannot inline into <{element}>: the code contains '</{element}' or '<!--'")
    return Markup(code)  # checked above: code, trusted as it is


class Charts:
    """The specs of the charts drawn so far, by their element ids (chart-1, chart-2, ...)."""

    def __init__(self) -> None:
        self.specs: dict[str, Spec] = {}

    def add(self, specs: list[Spec]) -> list[str]:
        ids = []
        for spec in specs:
            chart_id = f"chart-{len(self.specs) + 1}"
            self.specs[chart_id] = spec
            ids.append(chart_id)
        return ids


def render_panel(env: jinja2.Environment, panel: Panel, numbers: dict[str, Any], charts: Charts) -> Markup:
    """One panel's section. Its charts are drawn only if its template asks for them (draw())."""
    def draw() -> list[str]:
        if panel.chart is None:
            raise DwhError(f"the {panel.key} panel's template draws charts, but the panel has none")
        return charts.add(panel.chart(numbers))

    own = numbers[panel.key]
    return Markup(env.get_template(panel.template).render(  # escaped by the template
        panel=panel, n=numbers, p=own, v=panel.view(own) if panel.view else {}, draw=draw))


def vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script, from vl-convert-python. Building it takes
    seconds, so it is kept in the user's cache folder, one file per vl-convert version."""
    from importlib.metadata import version

    import vl_convert

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sparkify-dwh"
    path = cache / f"vega-bundle-{version('vl-convert-python')}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle: str = vl_convert.javascript_bundle()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass  # no cache: the next run builds it again
    return bundle


def render_html(numbers: dict[str, Any], bundle: str | None = None) -> str:
    """The page for this --json document (bundle: the Vega JavaScript, by default vl-convert's)."""
    env = environment()
    charts = Charts()
    sections = [render_panel(env, panel, numbers, charts) for panel in PANELS]
    p = numbers["period"]
    return env.get_template("page.html.j2").render(
        title=f"Sparkify listening dashboard, {p['from']} to {p['to']}", period=p, data=numbers["data"],
        generated_at=numbers["freshness"]["generated_at"], sections=sections,
        style=inlined((STATIC / "style.css").read_text(encoding="utf-8"), "style"),
        bundle=inlined(vega_bundle() if bundle is None else bundle, "script"),
        specs=Markup(script_json(charts.specs)),  # every <, > and & escaped
        embed=inlined((STATIC / "embed.js").read_text(encoding="utf-8"), "script")) + "\n"
