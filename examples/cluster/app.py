"""The demo (``examples/demo/app.py``) with its store in Redis, for several gunicorn workers.

Every answer carries ``X-Worker: <number> (pid <pid>)``: which worker served it. Start it with
``gunicorn -c examples/cluster/gunicorn.conf.py`` (see that file).
"""

from __future__ import annotations

import os
import sys

from flask import Response

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # examples/

from demo.app import create_app  # noqa: E402

#: Throttling counters and revocations live here, shared by every worker (and every host).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

app = create_app(store=REDIS_URL)


@app.after_request
def worker_header(response: Response) -> Response:
    response.headers["X-Worker"] = f"{os.environ.get('CLUSTER_WORKER', '?')} (pid {os.getpid()})"
    return response
