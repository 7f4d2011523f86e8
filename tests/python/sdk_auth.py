"""Drives the real `langsmith` Python SDK against Ironsmith for the authentication tests.

Configuration comes only from the environment, as users set it: LANGSMITH_ENDPOINT,
LANGSMITH_API_KEY and, optionally, LANGSMITH_WORKSPACE_ID. Prints one JSON object: what the
SDK read back, or which exception it raised.
"""

import json
import sys

import langsmith
from langsmith import utils as ls_utils


def main() -> None:
    client = langsmith.Client()
    result = {"sdk_version": langsmith.__version__}
    try:
        settings = client._get_settings()  # the SDK's own call for the workspace (hub) settings
        result["settings"] = {
            "id": str(settings.id),
            "display_name": settings.display_name,
            "created_at": settings.created_at.isoformat(),
        }
    except ls_utils.LangSmithUserError as e:
        result["error"] = {"type": "LangSmithUserError", "message": str(e)}
    except ls_utils.LangSmithAuthError as e:
        result["error"] = {"type": "LangSmithAuthError", "message": str(e)}
    except ls_utils.LangSmithError as e:
        result["error"] = {"type": type(e).__name__, "message": str(e)}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
