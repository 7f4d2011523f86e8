"""Traces with the real `langsmith` SDK as users do: nested `@traceable` functions, an LLM run
reporting usage, an attachment, an error, and feedback on the trace. Configured only by the
environment (LANGSMITH_ENDPOINT, LANGSMITH_API_KEY, LANGSMITH_PROJECT). Prints the ids it made."""

import json
import sys

import langsmith
from langsmith import Client, traceable
from langsmith.run_helpers import get_current_run_tree
from langsmith.schemas import Attachment

client = Client()
made = {}


@traceable(
    run_type="llm",
    name="chat",
    metadata={"ls_provider": "openai", "ls_model_name": "gpt-4o-mini"},
)
def chat(question: str) -> dict:
    made["llm"] = str(get_current_run_tree().id)
    return {
        "answer": "42",
        "usage_metadata": {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
    }


@traceable(run_type="tool", name="lookup")
def lookup(x: int) -> dict:
    made["tool"] = str(get_current_run_tree().id)
    return {"found": x * 2}


@traceable(run_type="retriever", name="flaky")
def flaky() -> None:
    made["error"] = str(get_current_run_tree().id)
    raise ValueError("the index is down")


@traceable(name="pipeline", tags=["e2e"], metadata={"thread_id": "th-1"})
def pipeline(question: str, report: Attachment) -> dict:
    run = get_current_run_tree()
    made["root"] = str(run.id)
    made["trace"] = str(run.trace_id)
    lookup(21)
    try:
        flaky()
    except ValueError:
        pass
    return chat(question)


with langsmith.tracing_context(client=client, enabled=True):
    pipeline("what is six times seven?", Attachment(mime_type="text/plain", data=b"report body"))
client.create_feedback(
    made["root"], key="helpful", score=0.75, trace_id=made["trace"], comment="fine"
)
client.flush()
print(json.dumps(made))
sys.stdout.flush()
