//! Experiments with the real clients, configured only by the environment: the Python SDK's
//! `evaluate()` (row and summary evaluators, repetitions), `aevaluate()`, `evaluate_comparative`
//! and its pytest plugin, and the JS SDK's `evaluate()`. What reads back (experiment statistics,
//! per-example feedback, comparisons) must match what the evaluators produced; dataset versions
//! must show an edited example in its old form as of a tag.

use std::collections::BTreeMap;

use ironsmith_e2e::{Stack, node, python, run_client};
use serde_json::{Value, json};

fn sorted_scores(values: &Value) -> Vec<f64> {
    let mut out: Vec<f64> = values
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    out.sort_by(f64::total_cmp);
    out
}

#[tokio::test]
async fn python_evaluate_aevaluate_and_comparisons_read_back() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let out = run_client(
        &python(),
        "tests/python/sdk_evaluate.py",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("RUN_SUFFIX", "e2e"),
        ],
    )
    .await?;
    eprintln!("{out:#}");

    assert_eq!(out["dataset"]["metadata"]["team"], "e2e");
    let duplicate = out["duplicate"].as_str().unwrap_or_default();
    assert!(duplicate.contains("409"), "{duplicate}");
    assert_eq!(out["created_count"], 4);
    let schema_error = out["schema_error"].as_str().unwrap_or_default();
    assert!(
        schema_error.contains("422") && schema_error.contains("inputs/a"),
        "the failing path is named: {schema_error}"
    );

    // Versions: as of the tag, the edited example has its old inputs and the later one is absent.
    let versioning = &out["versioning"];
    assert_eq!(versioning["at_tag"], json!({"a": 1, "b": 2}));
    assert_eq!(versioning["now"], json!({"a": 100, "b": 2}));
    assert_eq!(versioning["count_at_tag"], 4);
    assert_eq!(versioning["count_now"], 5);
    assert_eq!(
        versioning["diff"],
        json!({
            "examples_added": [versioning["extra_id"]],
            "examples_modified": [versioning["first_id"]],
            "examples_removed": [],
        })
    );
    assert_eq!(
        versioning["splits"],
        json!(["base", "test", "train"]),
        "the example added without a split is in `base`"
    );
    assert_eq!(versioning["train"], 3);
    assert_eq!(
        out["clone"]["examples"], 5,
        "cloned through the public link"
    );
    assert!(
        out["clone"]["inputs"]
            .as_array()
            .is_some_and(|i| i.contains(&json!(r#"{"a": 100, "b": 2}"#))),
        "{}",
        out["clone"]
    );

    // Per example, the feedback read back is the evaluators' scores, run by run.
    let sync = &out["sync"];
    let local = sync["local"].as_object().expect("local results");
    let read = sync["read"].as_object().expect("read results");
    assert_eq!(local.len(), 4, "{local:?}");
    assert_eq!(read.len(), 4, "{read:?}");
    let mut wrong = 0;
    for (example, scores) in local {
        let back = &read[example];
        assert_eq!(back["runs"], 2, "two repetitions of {example}");
        for key in ["exact", "closeness"] {
            assert_eq!(
                sorted_scores(&back["feedback"][key]),
                sorted_scores(&scores[key]),
                "{key} of {example}"
            );
        }
        wrong += sorted_scores(&scores["exact"])
            .iter()
            .filter(|s| **s == 0.0)
            .count();
    }
    assert_eq!(wrong, 2, "the adder is wrong on one example, twice");
    let stats = &sync["stats"];
    assert_eq!(stats["run_count"], 8);
    assert_eq!(stats["feedback"]["exact"], json!({"n": 8, "avg": 0.75}));
    assert_eq!(stats["feedback"]["closeness"]["n"], 8);
    assert_eq!(
        stats["session_feedback"]["accuracy"],
        json!({"n": 1, "avg": 0.75})
    );
    assert_eq!(
        stats["combined_keys"],
        json!(["accuracy", "closeness", "exact"])
    );
    assert_eq!(stats["metadata"]["model"], "adder");
    assert_eq!(stats["metadata"]["num_repetitions"], 2);

    assert_eq!(out["async"]["stats"], json!({"run_count": 4, "exact": 1.0}));
    let sync_name = sync["name"].as_str().expect("name");
    let async_name = out["async"]["name"].as_str().expect("name");
    let mut experiments = vec![sync_name, async_name];
    experiments.sort_unstable();
    assert_eq!(out["experiments"], json!(experiments));
    assert_eq!(out["dataset_after"]["session_count"], 2);

    // The pairwise evaluator preferred the always-right experiment wherever they differ.
    let by_project: BTreeMap<String, Vec<f64>> =
        serde_json::from_value(out["comparison"]["by_project"].clone())?;
    assert_eq!(by_project.len(), 2, "{by_project:?}");
    assert!(by_project[async_name].iter().all(|s| *s == 1.0));
    assert!(by_project[sync_name].contains(&0.0));
    assert_eq!(
        out["comparison"]["feedback"],
        json!(by_project.values().map(Vec::len).sum::<usize>())
    );
    Ok(())
}

#[tokio::test]
async fn js_evaluate_reads_back() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let out = run_client(
        &node(),
        "tests/js/sdk_evaluate.mjs",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
        ],
    )
    .await?;
    eprintln!("{out:#}");
    let local = out["local"].as_object().expect("local results");
    assert_eq!(local.len(), 3);
    for (example, scores) in local {
        assert_eq!(
            sorted_scores(&out["read"][example]["exact"]),
            sorted_scores(scores),
            "{example}"
        );
    }
    assert_eq!(out["stats"]["run_count"], 3);
    assert_eq!(out["stats"]["exact"]["n"], 3);
    let avg = out["stats"]["exact"]["avg"].as_f64().unwrap_or_default();
    assert!((avg - 2.0 / 3.0).abs() < 1e-9, "{avg}");
    let splits = &out["splits"];
    assert_eq!(splits["listed"], json!(["base", "test"]));
    assert_eq!(
        splits["in_test"], splits["expected_in_test"],
        "added to two, removed from one"
    );
    assert_eq!(splits["bulk_status"], 207);
    assert_eq!(
        splits["bulk"]["statuses"],
        json!([
            {"id": splits["third"], "status": "UPDATED"},
            {"id": splits["missing"], "status": "NOT_FOUND",
             "description": "not an example of this dataset, or deleted"},
        ])
    );
    assert_eq!(splits["reviewed"], json!({"by": "js"}));
    Ok(())
}

#[tokio::test]
async fn pytest_plugin_records_an_experiment() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let endpoint = format!("{}/api/v1", stack.edge);
    let out = run_client(
        &python(),
        "tests/python/sdk_pytest.py",
        &[
            ("LANGSMITH_ENDPOINT", &endpoint),
            ("LANGSMITH_API_KEY", &stack.admin_key),
            ("LANGSMITH_TEST_SUITE", "ironsmith-pytest"),
            ("LANGSMITH_TRACING", "true"),
        ],
    )
    .await?;
    eprintln!("{out:#}");
    assert_eq!(out["pytest_exit"], 1, "one test fails on purpose");
    assert_eq!(out["examples"], 2);
    assert_eq!(out["run_count"], 2);
    assert_eq!(out["feedback"]["pass"], json!({"n": 2, "avg": 0.5}));
    assert_eq!(out["feedback"]["length"]["n"], 1);
    Ok(())
}
