"""Calls of the newest `langsmith` SDK that earlier releases of the server answered wrongly:
error filters as booleans, `execution_order=1`, token details from `usage_metadata`,
attachments read back through `list_runs`, every form of example filter, and re-creating a
feedback configuration with a changed config. Configured by LANGSMITH_ENDPOINT,
LANGSMITH_API_KEY and LANGSMITH_PROJECT. Prints what it saw as JSON for the Rust test."""

import json
import os
import sys
import time
import uuid
import warnings

from langsmith import Client, traceable
from langsmith.schemas import Attachment

warnings.simplefilter("ignore")

PROJECT = os.environ["LANGSMITH_PROJECT"]
client = Client()
out = {}


@traceable(run_type="llm", name="model")
def model(question: str) -> dict:
    return {
        "choices": [{"message": {"role": "assistant", "content": "blue"}}],
        "usage_metadata": {
            "input_tokens": 30,
            "output_tokens": 8,
            "total_tokens": 38,
            "input_token_details": {"cache_read": 12, "audio": 2},
            "output_token_details": {"reasoning": 5},
        },
    }


@traceable(run_type="tool", name="broken")
def broken() -> None:
    raise ValueError("the tool broke")


@traceable(name="pipeline")
def pipeline(question: str, report: Attachment) -> str:
    model(question)
    try:
        broken()
    except ValueError:
        pass
    return "blue"


pipeline("what colour is the sky?", Attachment(mime_type="text/plain", data=b"a report"))
client.flush()

deadline = time.time() + 60
runs = []
while time.time() < deadline:
    if client.has_project(PROJECT):
        runs = list(client.list_runs(project_name=PROJECT))
        if len(runs) >= 3 and all(r.end_time for r in runs):
            break
    time.sleep(0.5)

out["errored"] = sorted(r.name for r in client.list_runs(project_name=PROJECT, filter="eq(error, true)"))
out["not_errored"] = sorted(r.name for r in client.list_runs(project_name=PROJECT, filter="eq(error, false)"))
out["roots"] = sorted(r.name for r in client.list_runs(project_name=PROJECT, execution_order=1))

llm = next(
    r
    for r in client.list_runs(
        project_name=PROJECT,
        run_type="llm",
        select=["id", "name", "prompt_token_details", "completion_token_details"],
    )
)
read = client.read_run(llm.id)
out["listed_token_details"] = [llm.prompt_token_details, llm.completion_token_details]
out["read_token_details"] = [read.input_token_details, read.output_token_details]

root = next(r for r in client.list_runs(project_name=PROJECT, is_root=True))
out["listed_attachments"] = {
    name: info["reader"].read().decode() for name, info in root.attachments.items()
}

# Example filters, in every form the SDKs document.
dataset = client.create_dataset(f"compat-{uuid.uuid4().hex[:8]}")
client.create_examples(
    dataset_id=dataset.id,
    examples=[
        {"inputs": {"q": "a"}, "outputs": {"a": 1}, "metadata": {"lang": "en", "score": 3}},
        {"inputs": {"q": "b"}, "outputs": {"a": 2}, "metadata": {"lang": "fr", "score": 7}},
        {"inputs": {"q": "c"}, "outputs": {"a": 3}, "metadata": {"topic": "x"}},
    ],
)


def example_filter(text):
    return sorted(e.inputs["q"] for e in client.list_examples(dataset_id=dataset.id, filter=text))


out["example_filters"] = {
    text: example_filter(text)
    for text in [
        'exists(metadata, "lang")',
        'has(metadata, \'{"lang": "fr"}\')',
        'and(eq(metadata_key, "lang"), eq(metadata_value, "en"))',
        'or(has(metadata, \'{"lang": "fr"}\'), exists(metadata, "topic"))',
        'not(exists(metadata, "lang"))',
    ]
}
out["metadata_kwarg"] = sorted(
    e.inputs["q"] for e in client.list_examples(dataset_id=dataset.id, metadata={"lang": "en"})
)

# A multipart example update whose rename collides with a retained attachment is refused.
from langsmith.schemas import AttachmentsOperations, ExampleUpsertWithAttachments  # noqa: E402

uploaded = client.create_examples(
    dataset_id=dataset.id,
    examples=[
        {
            "inputs": {"q": "with files"},
            "attachments": {
                "first": ("text/plain", b"one"),
                "second": ("text/plain", b"two"),
            },
        }
    ],
)
example_id = uploaded["example_ids"][0]
try:
    client.update_example(
        example_id,
        dataset_id=dataset.id,
        attachments_operations=AttachmentsOperations(rename={"first": "second"}, retain=["second"]),
    )
    out["colliding_rename"] = "accepted"
except Exception as error:  # the SDK raises LangSmithError with the server's answer
    out["colliding_rename"] = "422" if "422" in str(error) else str(error)
client.update_example(
    example_id,
    dataset_id=dataset.id,
    attachments_operations=AttachmentsOperations(rename={"first": "renamed"}, retain=["second"]),
)
out["after_rename"] = sorted(client.read_example(example_id).attachments)

# A feedback configuration re-created with a changed config.
key = f"compat-{uuid.uuid4().hex[:8]}"
client.create_feedback_config(key, feedback_config={"type": "continuous", "min": 0, "max": 1})
again = client.create_feedback_config(key, feedback_config={"type": "continuous", "min": 0, "max": 1})
out["same_config"] = again.feedback_config
changed = client.create_feedback_config(key, feedback_config={"type": "continuous", "min": 0, "max": 10})
out["changed_config"] = changed.feedback_config
out["configs_of_key"] = [
    [c.feedback_config.get("max"), c.is_first]
    for c in client.list_feedback_configs(feedback_key=[key], include_all_configs=True)
]
out["default_listing"] = [
    c.feedback_config.get("max") for c in client.list_feedback_configs(feedback_key=[key])
]

# The links the SDK prints: the Rust test opens each on the edge.
out["links"] = {
    "run": client.get_run_url(run=root, project_name=PROJECT),
    "project": client.read_project(project_name=PROJECT).url,
    "dataset": dataset.url,
    "shared_run": client.share_run(root.id),
    "shared_dataset": client.share_dataset(dataset.id)["url"],
}

# Insights need LangSmith's hosted clustering job: the server says so plainly (501), and the
# SDK raises with that reason.
try:
    client.generate_insights(
        chat_histories=[[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]],
        openai_api_key="sk-not-used-by-this-server",
    )
    out["insights"] = "generated"
except Exception as error:  # the SDK's LangSmithError
    out["insights"] = str(error)

json.dump(out, sys.stdout, default=str)
