"""HTML templates: one way to load them, with autoescaping on for every template.

Jinja2's ``select_autoescape()`` escapes only templates whose names end in ``.html``, ``.htm`` or ``.xml``; ours end
in ``.html.j2``, so with it every class name, file name and project name would reach the page as markup. Here
autoescaping is on whatever the name, and no template marks anything ``safe``.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader

REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
"""What a report file may load: its own inline style and data-URI images; no script, no request anywhere."""


def html_templates(package: str) -> Environment:
    """The templates of ``package`` (its ``templates/`` folder), every value escaped for HTML."""
    return Environment(loader=PackageLoader(package), autoescape=True)


def report_templates() -> Environment:
    """The report templates; each puts ``report_csp`` in a meta tag, so a report opened from disk runs no script."""
    environment = html_templates("tetsuban.reports")
    environment.globals["report_csp"] = REPORT_CSP
    return environment
