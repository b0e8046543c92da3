"""Templating: Ansible-compatible Jinja2 rendering of task values, conditionals and template files.

    templar = Templar("playbooks/")
    variables = LazyVars([group_vars, host_vars, play_vars], templar)
    templar.render("http://{{ host }}:{{ port }}", variables)     # -> str
    templar.render("{{ packages }}", variables)                    # -> the list itself
    templar.is_true("result.rc != 0 and not ansible_check_mode", variables)
    templar.render_file("templates/app.conf.j2", variables)       # the template module

Every failure raises orchestrator.errors.TemplateError (TemplateUndefinedError for undefined
names, TemplateCycleError for variables that refer to each other in a loop).
"""

from orchestrator.templating.common import (
    TemplateCycleError,
    TemplateUndefinedError,
    UnsafeStr,
    has_template,
    mark_unsafe,
)
from orchestrator.templating.engine import OMIT, AnsibleUndefined, Templar
from orchestrator.templating.lazyvars import LazyVars
from orchestrator.templating.lookups import LOOKUPS

__all__ = [
    "LOOKUPS",
    "OMIT",
    "AnsibleUndefined",
    "LazyVars",
    "Templar",
    "TemplateCycleError",
    "TemplateUndefinedError",
    "UnsafeStr",
    "has_template",
    "mark_unsafe",
]
