"""Daemon configurations rendered from Jinja2 templates; a template's fault is the user's input."""
from functools import lru_cache
from pathlib import Path

import jinja2

from vipcheck import REPO
from vipcheck.errors import ScenarioError

DAEMON_CONF = REPO / "daemon-conf"


@lru_cache(maxsize=None)
def _environment(folder):
    """One per folder: each template is compiled once per process, not once per node."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def render(folder, name, context):
    """Renders FOLDER/NAME with context; unknown names in the template are errors, not blanks."""
    try:
        return _environment(str(folder)).get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise ScenarioError(Path(folder) / name, "", "template missing") from None
    except jinja2.TemplateSyntaxError as e:
        raise ScenarioError(Path(folder) / name, f"line {e.lineno}", f"template syntax: {e.message}") from None
    except jinja2.UndefinedError as e:
        raise ScenarioError(Path(folder) / name, "", f"template uses an unknown value: {e.message}") from None
