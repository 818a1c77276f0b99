"""`make run`'s web process: Django's development server, started again after each code change.

`manage.py runserver` sets Django up twice: once in the process that only watches over the server
(it never serves a request), and again in the server process it starts, which restarts after each
change to the code. This process does the watching without setting Django up, by Django's own
function, so a start pays for one setup instead of two, and a change still reloads the server.

    .venv/bin/python scripts/devserver.py [runserver's arguments]
"""

import signal
import sys
from pathlib import Path

from django.utils import autoreload

if __name__ == "__main__":
    # The server process is `manage.py runserver` with these arguments, in the folder of manage.py.
    sys.argv = [str(Path(__file__).resolve().parent.parent / "manage.py"), "runserver", *sys.argv[1:]]
    # As runserver's own watching process does: stop quietly when asked, the server is stopped with us.
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
    try:
        sys.exit(autoreload.restart_with_reloader())
    except KeyboardInterrupt:
        sys.exit(0)
