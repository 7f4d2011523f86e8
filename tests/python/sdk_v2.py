"""Reads runs through the v2 resources of the real `langsmith` SDK (`runs.query_v2`,
`runs.retrieve_v2` of the generated client `Client` configures and itself uses in its
SmithDB read mode), as the newest SDK generates them: UPPERCASE selects and run types,
cursor pages. Traces first, configured by LANGSMITH_ENDPOINT, LANGSMITH_API_KEY and
LANGSMITH_PROJECT. Prints what it read as JSON for the Rust test."""

import datetime
import json
import os
import sys
import time
import warnings

from langsmith import Client, traceable

warnings.simplefilter("ignore")

PROJECT = os.environ["LANGSMITH_PROJECT"]
client = Client()
api = client._get_langsmith_api_sync()
out = {}


@traceable(run_type="llm", name="model")
def model(q: str) -> dict:
    return {"answer": q.upper(), "usage_metadata": {"input_tokens": 4, "output_tokens": 2, "total_tokens": 6}}


@traceable(name="pipeline", tags=["v2"], metadata={"team": "blue"})
def pipeline(q: str) -> dict:
    return model(q)


for q in ["a", "b", "c"]:
    pipeline(q)
THREADS = PROJECT + "-threads"
for turn, conversation in [("hi", "conv-1"), ("how are you", "conv-1"), ("bye", "conv-2")]:
    pipeline(turn, langsmith_extra={"project_name": THREADS, "metadata": {"thread_id": conversation}})
client.flush()

deadline = time.time() + 60
while time.time() < deadline:
    if client.has_project(PROJECT) and len(list(client.list_runs(project_name=PROJECT))) >= 6:
        break
    time.sleep(0.5)
project_id = str(client.read_project(project_name=PROJECT).id)

bare = list(api.runs.query_v2(project_ids=[project_id]))
out["bare_keys"] = sorted({key for run in bare for key, value in run.to_dict().items() if value is not None})
out["bare_count"] = len(bare)

roots = list(
    api.runs.query_v2(
        project_ids=[project_id],
        is_root=True,
        selects=["NAME", "RUN_TYPE", "STATUS", "TAGS", "METADATA", "INPUTS", "IS_ROOT", "LATENCY_SECONDS", "PROJECT_ID"],
    )
)
out["roots"] = sorted(
    [[r.name, r.run_type, r.status, r.tags, (r.metadata or {}).get("team"), r.inputs, r.is_root, r.project_id] for r in roots],
    key=str,
)
out["latency_ok"] = all((r.latency_seconds or -1) >= 0 for r in roots)

llms = list(api.runs.query_v2(project_ids=[project_id], run_type="LLM", selects=["TOTAL_TOKENS", "NAME"]))
out["llm_tokens"] = sorted((r.name, r.total_tokens) for r in llms)

pages = api.runs.query_v2(project_ids=[project_id], page_size=2, selects=["NAME"])
seen = [r.id for r in pages]  # the SDK's iterator follows next_cursor
out["paged_total"] = len(seen)
out["paged_unique"] = len(set(seen))

one = api.runs.retrieve_v2(roots[0].id, project_id=project_id, selects=["NAME", "OUTPUTS", "TRACE_ID"])
out["retrieved"] = [one.name, one.outputs, one.trace_id == roots[0].id]

traces = list(api.traces.query(project_id=project_id, selects=["NAME", "INPUTS", "TOTAL_TOKENS"]))
out["traces"] = sorted(
    ([t.root_run.name, t.root_run.inputs, t.trace_aggregates.total_tokens] for t in traces),
    key=json.dumps,
)
trace_runs = api.traces.list_runs(roots[0].id, project_id=project_id, selects=["NAME", "RUN_TYPE", "IS_ROOT"])
out["trace_runs"] = [[r.name, r.run_type, r.is_root] for r in trace_runs.items]

deadline = time.time() + 60
while time.time() < deadline:
    if client.has_project(THREADS) and len(list(client.list_runs(project_name=THREADS))) >= 6:
        break
    time.sleep(0.5)
threads_project = str(client.read_project(project_name=THREADS).id)
threads = list(api.threads.query(project_id=threads_project))
out["threads"] = sorted([t.thread_id, t.count, t.total_tokens] for t in threads)
turns = list(api.threads.list_traces("conv-1", project_id=threads_project))
out["turns"] = [[t.name, t.inputs, t.thread_id] for t in turns]
stats = api.threads.stats("conv-1", session_id=threads_project, selects=["TURNS", "TOTAL_TOKENS"])
out["thread_stats"] = [stats.turns, stats.total_tokens]

# A conversation shared by a public link: its traces' runs read without a key, nothing of
# another conversation, and nothing once unshared.
thread_token = api.threads.share.create("conv-1", project_id=threads_project).share_token
out["thread_share_kept"] = api.threads.share.create("conv-1", project_id=threads_project).share_token == thread_token
out["thread_share_read"] = api.threads.share.retrieve("conv-1", project_id=threads_project).share_token == thread_token
shared_thread = api.public.runs.query(thread_token, selects=["NAME", "INPUTS"])
out["thread_shared_runs"] = sorted([r.name, (r.inputs or {}).get("q")] for r in shared_thread.items)
other_turn = list(api.threads.list_traces("conv-2", project_id=threads_project))[0]
try:
    api.public.runs.retrieve(
        other_turn.trace_id, share_token=thread_token, selects=["NAME"], start_time=other_turn.start_time
    )
    out["thread_share_other"] = "readable"
except Exception as error:
    out["thread_share_other"] = getattr(error, "status_code", repr(error))
try:
    api.threads.share.create("no-such-conversation", project_id=threads_project)
    out["thread_share_unknown"] = "shared"
except Exception as error:
    out["thread_share_unknown"] = getattr(error, "status_code", repr(error))
api.threads.share.delete("conv-1", project_id=threads_project)
out["thread_unshared"] = api.threads.share.retrieve("conv-1", project_id=threads_project).share_token
try:
    api.public.runs.query(thread_token, selects=["NAME"])
    out["thread_after_unshare"] = "readable"
except Exception as error:
    out["thread_after_unshare"] = getattr(error, "status_code", repr(error))

# Statistics over all the project's conversations: every statistic, once with feedback on the
# first conversation's turns (read back once the feedback is stored), then as a time series,
# narrowed by a trace filter, and a thread_filter (not supported here: a 422).
EVERY_STAT = [
    "THREAD_COUNT", "TRACE_COUNT", "TOTAL_TOKENS", "TOTAL_COST", "ERROR_RATE", "STREAMING_RATE",
    "LATENCY_P50", "LATENCY_P99", "MEDIAN_TOKENS", "FIRST_TOKEN_P50", "FIRST_TOKEN_P99",
    "PROMPT_TOKENS", "COMPLETION_TOKENS", "PROMPT_COST", "COMPLETION_COST", "PROMPT_TOKEN_DETAILS",
    "COMPLETION_TOKEN_DETAILS", "PROMPT_COST_DETAILS", "COMPLETION_COST_DETAILS", "THREAD_FEEDBACK_STATS",
]
for score, turn in zip([1.0, 0.0], turns):
    client.create_feedback(turn.trace_id, key="helpful", score=score, trace_id=turn.trace_id)
deadline = time.time() + 60
while True:
    aggregate = api.threads.aggregate_stats(project_id=threads_project, select=EVERY_STAT)
    if (aggregate.thread_feedback_stats or {}).get("helpful") or time.time() > deadline:
        break
    time.sleep(0.5)
out["aggregate"] = aggregate.to_dict()
now = datetime.datetime.now(datetime.timezone.utc)
series = api.threads.aggregate_stats(
    project_id=threads_project,
    select=["THREAD_COUNT", "TRACE_COUNT"],
    min_start_time=now - datetime.timedelta(hours=3),
    max_start_time=now + datetime.timedelta(minutes=1),
    stride={"unit": "HOUR", "value": 1},
)
out["series"] = [[b.thread_count, b.trace_count, b.bucket_start_time is not None] for b in series.buckets]
out["series_total"] = [series.thread_count, series.trace_count]
narrowed = api.threads.aggregate_stats(
    project_id=threads_project, select=["THREAD_COUNT", "TRACE_COUNT"], trace_filter='eq(thread_id, "conv-2")'
)
out["narrowed"] = [narrowed.thread_count, narrowed.trace_count]
try:
    api.threads.aggregate_stats(project_id=threads_project, select=["THREAD_COUNT"], thread_filter="gt(turns, 1)")
    out["thread_filter"] = "accepted"
except Exception as error:  # the generated client raises its status error
    out["thread_filter"] = getattr(error, "status_code", repr(error))

root = roots[0]
token = api.runs.share.create(root.id, session_id=project_id, trace_id=root.id).share_token
out["share_token"] = token
out["shared_read"] = client.read_shared_run(token).name
public = api.public.runs.query(token, selects=["NAME", "RUN_TYPE", "START_TIME"])
out["public_runs"] = sorted([r.name, r.run_type] for r in public.items)
child = next(r for r in public.items if r.name == "model")
out["public_run"] = api.public.runs.retrieve(
    child.id, share_token=token, selects=["NAME", "OUTPUTS"], start_time=child.start_time
).outputs
out["url"] = api.runs.get_url(root.id, project_id=project_id, trace_id=root.id).url
api.runs.share.delete(root.id, session_id=project_id)
try:
    client.read_shared_run(token)
    out["after_unshare"] = "still readable"
except Exception:  # the SDK raises its not-found error
    out["after_unshare"] = "gone"

# An experiment on a dataset, read back through the v2 experiment-runs resource.
from langsmith import evaluate  # noqa: E402

dataset = client.create_dataset(PROJECT + "-dataset")
client.create_examples(
    dataset_id=dataset.id,
    examples=[{"inputs": {"q": "x"}, "outputs": {"answer": "X"}}, {"inputs": {"q": "y"}, "outputs": {"answer": "Y"}}],
)
def correct(inputs: dict, outputs: dict) -> dict:
    # Scores x right and y wrong, so the examples can be sorted and filtered by it.
    return {"key": "correct", "score": 1.0 if inputs["q"] == "x" else 0.0}


results = evaluate(
    lambda inputs: {"answer": inputs["q"].upper()}, data=dataset.name, evaluators=[correct], experiment_prefix="v2-exp"
)
experiment = client.read_project(project_name=results.experiment_name)
client.flush()
deadline = time.time() + 60
while time.time() < deadline:
    done = [r for r in client.list_runs(project_id=experiment.id, is_root=True) if r.end_time]
    if len(done) >= 2:
        break
    time.sleep(0.5)
pages = api.datasets.experiment_runs.query(
    str(dataset.id), experiment_ids=[str(experiment.id)], selects=["OUTPUTS", "REFERENCE_EXAMPLE_ID"], page_size=1
)
rows = list(pages)
out["experiment_rows"] = sorted(
    [r.inputs["q"], [run.outputs for run in r.runs], all(run.reference_example_id == r.id for run in r.runs)]
    for r in rows
)

# Filtered to the examples whose run meets a feedback filter, and sorted by a feedback score
# (once the evaluator's feedback is stored).
experiment_id = str(experiment.id)
deadline = time.time() + 60
while True:
    ascending = api.datasets.experiment_runs.query(
        str(dataset.id), experiment_ids=[experiment_id], sort={"by": "feedback.correct", "order": "ASC"}
    )
    out["sorted_asc"] = [r.inputs["q"] for r in ascending]
    if out["sorted_asc"] == ["y", "x"] or time.time() > deadline:
        break
    time.sleep(0.5)
descending = api.datasets.experiment_runs.query(
    str(dataset.id), experiment_ids=[experiment_id], sort={"by": "correct"}, page_size=1
)
out["sorted_desc"] = [r.inputs["q"] for r in descending]
passing = api.datasets.experiment_runs.query(
    str(dataset.id),
    experiment_ids=[experiment_id],
    filters={experiment_id: ['and(eq(feedback_key, "correct"), eq(feedback_score, 1))']},
)
out["filtered"] = [r.inputs["q"] for r in passing]
try:
    list(api.datasets.experiment_runs.query(str(dataset.id), experiment_ids=[experiment_id], filters={experiment_id: ["eq(nope"]}))
    out["bad_filter"] = "accepted"
except Exception as error:
    out["bad_filter"] = getattr(error, "status_code", repr(error))

json.dump(out, sys.stdout, default=str)
