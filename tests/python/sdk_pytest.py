"""Runs a small pytest suite under the `langsmith` pytest plugin (`@pytest.mark.langsmith`)
against Ironsmith, then reads back the dataset and the experiment it recorded: one example per
test, one run per test, the plugin's `pass` feedback and the feedback a test logged.
Configured only by the environment (LANGSMITH_TEST_SUITE names the dataset). Prints JSON."""

import json
import os
import sys
import tempfile
import textwrap
import time
import warnings

import pytest
from langsmith import Client

warnings.simplefilter("ignore")

SUITE = os.environ["LANGSMITH_TEST_SUITE"]
TESTS = textwrap.dedent(
    """
    import pytest
    from langsmith import testing as t


    @pytest.mark.langsmith
    def test_adds():
        t.log_inputs({"a": 1, "b": 2})
        t.log_reference_outputs({"sum": 3})
        result = 1 + 2
        t.log_outputs({"sum": result})
        t.log_feedback(key="length", score=len(str(result)))
        assert result == 3


    @pytest.mark.langsmith
    def test_fails_on_purpose():
        t.log_inputs({"a": 2, "b": 2})
        t.log_outputs({"sum": 5})
        assert 2 + 2 == 5
    """
)

with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "test_suite.py")
    with open(path, "w") as f:
        f.write(TESTS)
    # The suite's own output must not mix with the JSON this script prints.
    stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        exit_code = pytest.main([path, "-q", "-p", "no:cacheprovider"])
    finally:
        sys.stdout = stdout

client = Client()
dataset = client.read_dataset(dataset_name=SUITE)
examples = list(client.list_examples(dataset_id=dataset.id))
deadline = time.time() + 90
while True:
    projects = list(client.list_projects(reference_dataset_id=dataset.id))
    project = (
        client.read_project(project_id=projects[0].id, include_stats=True) if projects else None
    )
    stats = (project.feedback_stats or {}) if project else {}
    if project and project.run_count == 2 and (stats.get("pass") or {}).get("n") == 2:
        break
    if time.time() > deadline:
        raise TimeoutError(f"{projects}: {project and project.run_count} runs, feedback {stats}")
    time.sleep(0.5)

print(
    json.dumps(
        {
            "pytest_exit": int(exit_code),
            "examples": len(examples),
            "experiments": len(projects),
            "run_count": project.run_count,
            "feedback": {k: {"n": v["n"], "avg": v["avg"]} for k, v in stats.items()},
        }
    )
)
