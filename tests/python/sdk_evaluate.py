"""Runs experiments with the real `langsmith` SDK against Ironsmith and reads back what they
recorded: a dataset with JSON schemas, versions and tags, `evaluate()` with a row evaluator, a
summary evaluator and repetitions, `aevaluate()`, a pairwise comparison of the two experiments,
and the experiments' statistics and per-example results. Configured only by the environment.
Prints what the evaluators produced and what was read back, as JSON; the Rust test compares."""

import asyncio
import json
import os
import time
import warnings

from langsmith import Client
from langsmith.evaluation import aevaluate, evaluate, evaluate_comparative

warnings.simplefilter("ignore")

client = Client()
out = {}
suffix = os.environ["RUN_SUFFIX"]

dataset = client.create_dataset(
    f"arith-{suffix}",
    description="sums",
    inputs_schema={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
    outputs_schema={"type": "object", "properties": {"sum": {"type": "integer"}}},
    metadata={"team": "e2e"},
)
out["dataset"] = {"metadata": client.read_dataset(dataset_id=dataset.id).metadata}
try:
    client.create_dataset(f"arith-{suffix}")
    out["duplicate"] = "accepted"
except Exception as e:  # noqa: BLE001
    out["duplicate"] = str(e)

pairs = [(1, 2), (3, 4), (5, 6), (7, 8)]
created = client.create_examples(
    dataset_id=dataset.id,
    examples=[
        {
            "inputs": {"a": a, "b": b},
            "outputs": {"sum": a + b},
            "metadata": {"row": i},
            "split": "train" if i < 3 else "test",
        }
        for i, (a, b) in enumerate(pairs)
    ],
)
out["created_count"] = created["count"]
try:
    client.create_example(inputs={"a": "one", "b": 2}, outputs={"sum": 3}, dataset_id=dataset.id)
    out["schema_error"] = "accepted"
except Exception as e:  # noqa: BLE001
    out["schema_error"] = str(e)

# Versioning: tag the current version, then edit an example and add one.
examples = sorted(client.list_examples(dataset_id=dataset.id), key=lambda e: e.metadata["row"])
first = examples[0]
versions = client.list_dataset_versions(dataset_id=dataset.id)
latest = max(v.as_of for v in versions)
client.update_dataset_tag(dataset_id=dataset.id, as_of=latest, tag="v1")
client.update_example(first.id, inputs={"a": 100, "b": 2}, outputs={"sum": 102})
extra = client.create_example(inputs={"a": 9, "b": 9}, outputs={"sum": 18}, dataset_id=dataset.id)
old_first = [e for e in client.list_examples(dataset_id=dataset.id, as_of="v1") if e.id == first.id]
out["versioning"] = {
    "at_tag": old_first[0].inputs if old_first else None,
    "now": client.read_example(first.id).inputs,
    "count_at_tag": len(list(client.list_examples(dataset_id=dataset.id, as_of="v1"))),
    "count_now": len(list(client.list_examples(dataset_id=dataset.id))),
    "tag_version": str(client.read_dataset_version(dataset_id=dataset.id, tag="v1").as_of),
    "diff": {
        k: sorted(str(i) for i in v)
        for k, v in client.diff_dataset_versions(
            dataset_id=dataset.id, from_version="v1", to_version="latest"
        )
        .model_dump()
        .items()
    },
    "first_id": str(first.id),
    "extra_id": str(extra.id),
    "splits": sorted(client.list_dataset_splits(dataset_id=dataset.id)),
    "train": len(list(client.list_examples(dataset_id=dataset.id, splits=["train"]))),
}
# A public link, and a copy made from it the way the SDK clones shared datasets.
shared = client.share_dataset(dataset_id=dataset.id)
clone = client.clone_public_dataset(shared["share_token"], dataset_name=f"arith-copy-{suffix}")
out["clone"] = {
    "examples": len(list(client.list_examples(dataset_id=clone.id))),
    "inputs": sorted(json.dumps(e.inputs, sort_keys=True) for e in client.list_examples(dataset_id=clone.id)),
}
client.unshare_dataset(dataset.id)

# Back to the original data for the experiments.
client.delete_example(extra.id)
client.update_example(first.id, inputs={"a": 1, "b": 2}, outputs={"sum": 3})


def adder(inputs: dict) -> dict:
    # Wrong on purpose for a=5, so the evaluator has something to catch.
    return {"sum": inputs["a"] + inputs["b"] + (1 if inputs["a"] == 5 else 0)}


def exact(outputs: dict, reference_outputs: dict) -> dict:
    return {"key": "exact", "score": outputs["sum"] == reference_outputs["sum"]}


def closeness(outputs: dict, reference_outputs: dict) -> dict:
    return {"key": "closeness", "score": 1.0 / (1 + abs(outputs["sum"] - reference_outputs["sum"]))}


def accuracy(outputs: list, reference_outputs: list) -> dict:
    right = sum(o["sum"] == r["sum"] for o, r in zip(outputs, reference_outputs))
    return {"key": "accuracy", "score": right / len(outputs)}


results = evaluate(
    adder,
    data=dataset.name,
    evaluators=[exact, closeness],
    summary_evaluators=[accuracy],
    experiment_prefix=f"py-sync-{suffix}",
    num_repetitions=2,
    max_concurrency=2,
    metadata={"model": "adder"},
)
local = {}
for row in results:
    example_id = str(row["example"].id)
    for result in row["evaluation_results"]["results"]:
        local.setdefault(example_id, {}).setdefault(result.key, []).append(float(result.score))
out["sync"] = {"name": results.experiment_name, "local": local}


async def async_adder(inputs: dict) -> dict:
    await asyncio.sleep(0)
    return {"sum": inputs["a"] + inputs["b"]}


async def run_async():
    return await aevaluate(
        async_adder,
        data=client.list_examples(dataset_id=dataset.id),
        evaluators=[exact],
        experiment_prefix=f"py-async-{suffix}",
        max_concurrency=2,
    )


async_results = asyncio.run(run_async())
out["async"] = {"name": async_results.experiment_name}
client.flush()


def wait_for(project_name: str, runs: int, feedback_key: str, feedback_n: int):
    deadline = time.time() + 90
    while True:
        project = client.read_project(project_name=project_name, include_stats=True)
        stats = project.feedback_stats or {}
        if project.run_count == runs and (stats.get(feedback_key) or {}).get("n") == feedback_n:
            return project
        if time.time() > deadline:
            raise TimeoutError(f"{project_name}: {project.run_count} runs, feedback {stats}")
        time.sleep(0.5)


sync_project = wait_for(results.experiment_name, 8, "exact", 8)
async_project = wait_for(async_results.experiment_name, 4, "exact", 4)
experiment = client.get_experiment_results(name=results.experiment_name)
read = {}
for example in experiment["examples_with_runs"]:
    per_key = {}
    for run in example.runs:
        for key, stat in (run.feedback_stats or {}).items():
            per_key.setdefault(key, []).append(stat["avg"])
    read[str(example.id)] = {"runs": len(example.runs), "feedback": per_key}
out["sync"]["read"] = read
out["sync"]["stats"] = {
    "run_count": sync_project.run_count,
    "feedback": {k: {"n": v["n"], "avg": v["avg"]} for k, v in sync_project.feedback_stats.items()},
    "session_feedback": {
        k: {"n": v["n"], "avg": v["avg"]} for k, v in (sync_project.session_feedback_stats or {}).items()
    },
    "combined_keys": sorted(experiment["feedback_stats"].keys()),
    "reference_dataset_id": str(sync_project.reference_dataset_id),
    "metadata": sync_project.metadata,
}
out["async"]["stats"] = {
    "run_count": async_project.run_count,
    "exact": async_project.feedback_stats["exact"]["avg"],
}
out["experiments"] = sorted(
    p.name for p in client.list_projects(reference_dataset_id=dataset.id)
)
out["dataset_after"] = {
    "session_count": client.read_dataset(dataset_id=dataset.id).session_count,
}


def prefers_correct(runs: list, example) -> dict:
    truth = example.outputs["sum"]
    scores = {str(run.id): float(run.outputs["sum"] == truth) for run in runs}
    return {"key": "preferred", "scores": scores}


comparison = evaluate_comparative(
    [async_results.experiment_name, results.experiment_name],
    evaluators=[prefers_correct],
    experiment_prefix=f"py-compare-{suffix}",
)
comparative_id = comparison.comparative_experiment.id
pairwise = list(client.list_feedback(comparative_experiment_id=comparative_id, feedback_key=["preferred"]))
out["comparison"] = {"feedback": len(pairwise), "by_project": {}}
for fb in pairwise:
    run = client.read_run(fb.run_id)
    name = client.read_project(project_id=run.session_id).name
    out["comparison"]["by_project"].setdefault(name, []).append(fb.score)
for name in out["comparison"]["by_project"]:
    out["comparison"]["by_project"][name].sort()

print(json.dumps(out, default=str))
