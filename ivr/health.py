"""GET /healthz: what the line loaded, for load balancers and whoever deploys it."""

import os

from flask import Blueprint

from .audio import OFFLINE_ENGINE
from .line import current_line

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    """The content and audio this worker answers calls with; 200 means it can take calls.

    "degraded": this worker's call store is failing (its calls go on, unrecorded). Each
    worker answers for itself, and says which one it is (`pid`): ask several times to see
    them all.
    """
    line = current_line()
    store = line.store
    return {
        "status": "degraded" if store and store.recorder.failing else "ok",
        "pid": os.getpid(),
        "content": {
            # The file's name, not its path: the endpoint is public.
            "file": line.content.path.name,
            "prompts": len(line.content.prompts),
            "steps": line.content.steps,
        },
        "audio": {
            **line.audio.summary(),
            # Callers hear a robotic voice until Google's is built (README: before going live).
            "offline_engine_only": line.audio.engines == [OFFLINE_ENGINE],
        },
        # This worker's call store writer: events written and lost (database down, queue full).
        **({"store": store.health()} if store else {}),
    }
