"""Daemon configurations rendered from Jinja2 templates; a template's fault is the user's input."""
from functools import lru_cache
from pathlib import Path

import jinja2

from vipcheck.errors import ScenarioError


def _search_path(folders):
    """A folder, or folders searched in order (a scenario's own templates before the shipped)."""
    return tuple(map(str, folders)) if isinstance(folders, (tuple, list)) else (str(folders),)


@lru_cache(maxsize=None)
def _environment(search_path):
    """One per search path: each template is compiled once per process, not once per node."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(list(search_path)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def source(folders, name):
    """The file NAME is rendered from: the first of `folders` that holds it."""
    path = _search_path(folders)
    try:
        return Path(_environment(path).get_template(name).filename)
    except jinja2.TemplateError:
        return Path(path[0]) / name


def render(folders, name, context):
    """Renders NAME, found in `folders`, with context; unknown names in the template are errors,
    not blanks."""
    try:
        return _environment(_search_path(folders)).get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise ScenarioError(source(folders, name), "", "template missing") from None
    except jinja2.TemplateSyntaxError as e:
        raise ScenarioError(source(folders, name), f"line {e.lineno}", f"template syntax: {e.message}") from None
    except jinja2.UndefinedError as e:
        raise ScenarioError(source(folders, name), "", f"template uses an unknown value: {e.message}") from None
