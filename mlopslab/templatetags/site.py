"""`{% site_url 'name' %}`: the address of a URL pattern without arguments, reversed once per process.

base.html links to a dozen such pages on every page; `{% url %}` reverses each on every request.
The URLconf does not change while a process runs, so the answer is kept (per script prefix, which
a proxy may set). For patterns that take arguments, use `{% url %}`.
"""

from functools import lru_cache

from django import template
from django.urls import get_script_prefix, reverse

register = template.Library()


@lru_cache(maxsize=256)
def _reversed(name: str, prefix: str) -> str:
    return reverse(name)


@register.simple_tag
def site_url(name: str) -> str:
    return _reversed(name, get_script_prefix())
