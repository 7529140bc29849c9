"""Sphinx extension: emit each script of a page once.

Jupyter Book 1 fires Sphinx's ``env-before-read-docs`` event more than once, and extensions
that add an inline script there (sphinx-thebe's ``const THEBE_JS_URL = ...``,
sphinx-togglebutton's settings) add it again each time. A second ``const`` declaration is a
SyntaxError in every page's console. This keeps the first copy of each identical script.
"""


def _key(script):
    filename = getattr(script, "filename", script) or ""  # inline scripts: None or ""
    attributes = getattr(script, "attributes", {}) or {}
    return filename, tuple(sorted((k, str(v)) for k, v in attributes.items()))


def _dedupe(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)  # after the theme adds its own
    return {"parallel_read_safe": True, "parallel_write_safe": True}
