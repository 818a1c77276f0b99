"""The ASGI application, as README's production recipe serves it (gunicorn with uvicorn workers).

An ASGI server reads request bodies on its event loop, so a slow or lying client holds a socket, not
a worker; `limit_asgi_bodies` keeps an oversized body from being handed to Django at all.
"""

import os

from django.core.asgi import get_asgi_application

from mlopslab.limits import limit_asgi_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopslab.settings")
application = limit_asgi_bodies(get_asgi_application())
