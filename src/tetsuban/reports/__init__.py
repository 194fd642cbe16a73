"""Self-contained HTML reports: Jinja2 templates, matplotlib figures and thumbnails inlined as data URIs."""
