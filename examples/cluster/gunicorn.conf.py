"""gunicorn settings for the demo on several workers sharing Redis: the one command is::

    gunicorn -c examples/cluster/gunicorn.conf.py

``PORT`` (default 5007), ``WORKERS`` (default 3) and ``REDIS_URL`` (default
``redis://127.0.0.1:6379/0``) change them. ``python examples/cluster/tour.py`` then shows a
revocation and the sign-in throttle holding across the workers.
"""

from __future__ import annotations

import os
import typing as t

chdir = os.path.dirname(os.path.abspath(__file__))
wsgi_app = "app:app"
bind = f"127.0.0.1:{os.environ.get('PORT', '5007')}"
workers = int(os.environ.get("WORKERS", "3"))


def post_fork(server: t.Any, worker: t.Any) -> None:
    """Number the workers (1, 2, 3...), so answers can say which one served them."""
    os.environ["CLUSTER_WORKER"] = str(worker.age)


def post_worker_init(worker: t.Any) -> None:
    """Say when a worker has loaded the app and takes requests."""
    print(f"worker {worker.age} (pid {worker.pid}) ready", flush=True)


def when_ready(server: t.Any) -> None:
    print(f"flask_authguard cluster demo running on http://{bind}/ with {workers} workers", flush=True)
    print("Demo users: alice / alice-admin-pw (admin), bob / bob-user-pw (user)", flush=True)
