"""Sphinx extension: drop duplicate inline <script> blocks from every page.

sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = ...``) on each
``env-before-read-docs`` event, which Jupyter Book 1.x fires twice; the second copy re-declares a
``const`` and the browser reports a page error. Keeping the first copy of each identical script
fixes it without touching thebe's behaviour.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # The two copies differ only in filename None vs '': compare inline scripts by body.
        filename = getattr(script, "filename", script) or ""
        key = (str(filename), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique


def setup(app):
    # Early priority: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
