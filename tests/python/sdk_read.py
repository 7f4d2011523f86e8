"""Reads back with the real `langsmith` SDK what it traced: projects, a run with its child
tree and attachment, filtered run lists, run statistics, and a shared run read without a key.
Configured only by the environment (LANGSMITH_ENDPOINT, LANGSMITH_API_KEY, LANGSMITH_PROJECT).
Prints what it read as JSON; the Rust test compares it with what was traced."""

import json
import os
import sys
import time
import warnings

import langsmith
import requests
from langsmith import Client, traceable
from langsmith.run_helpers import get_current_run_tree
from langsmith.schemas import Attachment

warnings.simplefilter("ignore", DeprecationWarning)

PROJECT = os.environ["LANGSMITH_PROJECT"]
client = Client()
made = {}


@traceable(
    run_type="llm",
    name="chat",
    metadata={"ls_provider": "openai", "ls_model_name": "gpt-4o-mini", "user": "ada"},
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


@traceable(name="pipeline", tags=["sdk-read"], metadata={"thread_id": "th-read"})
def pipeline(question: str, report: Attachment) -> dict:
    run = get_current_run_tree()
    made["root"] = str(run.id)
    made["trace"] = str(run.trace_id)
    lookup(21)
    return chat(question)


@traceable(name="second", metadata={"user": "bob"})
def second(x: int) -> int:
    made["second"] = str(get_current_run_tree().id)
    return x + 1


with langsmith.tracing_context(client=client, enabled=True):
    pipeline("what is six times seven?", Attachment(mime_type="text/plain", data=b"report body"))
    second(1)
client.create_feedback(made["root"], key="helpful", score=1.0, trace_id=made["trace"])
client.flush()

# Wait until every run is readable with its end folded in (ingestion is asynchronous).
deadline = time.time() + 30
while True:
    runs = list(client.list_runs(project_name=PROJECT))
    if len(runs) == 4 and all(r.end_time is not None for r in runs):
        break
    if time.time() > deadline:
        sys.exit(f"only {len(runs)} runs readable")
    time.sleep(0.2)
while not client.read_run(made["root"]).feedback_stats:
    if time.time() > deadline:
        sys.exit("feedback never readable")
    time.sleep(0.2)

out = {"made": made}

project = client.read_project(project_name=PROJECT, include_stats=True)
out["project"] = {
    "id": str(project.id),
    "name": project.name,
    "run_count": project.run_count,
    "total_tokens": project.total_tokens,
    "tenant_id": str(project.tenant_id),
}
out["listed_projects"] = [p.name for p in client.list_projects(name_contains=PROJECT)]
out["has_project"] = client.has_project(PROJECT)

root = client.read_run(made["root"], load_child_runs=True)
out["root"] = {
    "name": root.name,
    "run_type": root.run_type,
    "status": root.status,
    "tags": root.tags,
    "inputs": root.inputs,
    "outputs": root.outputs,
    "children": [c.name for c in root.child_runs],
    "grandchildren": [[g.name for g in c.child_runs or []] for c in root.child_runs],
    "attachment": root.attachments["report"]["reader"].read().decode(),
    "feedback": root.feedback_stats,
    "thread_id": root.thread_id if hasattr(root, "thread_id") else None,
}

llm = client.read_run(made["llm"])
out["llm"] = {
    "prompt_tokens": llm.prompt_tokens,
    "completion_tokens": llm.completion_tokens,
    "total_tokens": llm.total_tokens,
    "parent_run_ids": [str(i) for i in llm.parent_run_ids],
}

out["filters"] = {
    "llm_runs": [r.name for r in client.list_runs(project_name=PROJECT, run_type="llm")],
    "roots": sorted(r.name for r in client.list_runs(project_name=PROJECT, is_root=True)),
    "by_name": [str(r.id) for r in client.list_runs(project_name=PROJECT, filter='eq(name, "lookup")')],
    "bob": [r.name for r in client.list_runs(
        project_name=PROJECT, filter='and(eq(metadata_key, "user"), eq(metadata_value, "bob"))')],
    "tagged_trace": sorted(r.name for r in client.list_runs(
        project_name=PROJECT, trace_filter='has(tags, "sdk-read")', is_root=False)),
    "rated": [r.name for r in client.list_runs(
        project_name=PROJECT, filter='and(eq(feedback_key, "helpful"), gt(feedback_score, 0.5))')],
    "limited": len(list(client.list_runs(project_name=PROJECT, limit=3))),
}
try:
    list(client.list_runs(project_name=PROJECT, filter="eq(name"))
    out["bad_filter"] = None
except Exception as error:  # noqa: BLE001 - the message is what we check
    out["bad_filter"] = str(error)

stats = client.get_run_stats(project_names=[PROJECT])
out["stats"] = {k: stats.get(k) for k in ("run_count", "total_tokens", "error_rate")}

url = client.share_run(made["root"])
token = url.rstrip("/").split("/")[-2]
out["share"] = {
    "url": url,
    "is_shared": client.run_is_shared(made["root"]),
    "link": client.read_run_shared_link(made["root"]),
}
shared = client.read_shared_run(token)
out["share"]["root_name"] = shared.name
out["share"]["child_name"] = client.read_shared_run(token, made["tool"]).name
out["share"]["listed"] = sorted(r.name for r in client.list_shared_runs(token))
anonymous = requests.get(f"{os.environ['LANGSMITH_ENDPOINT']}/public/{token}/run", timeout=10)
out["share"]["anonymous_status"] = anonymous.status_code
client.unshare_run(made["root"])
out["share"]["after_unshare"] = client.run_is_shared(made["root"])

print(json.dumps(out))
