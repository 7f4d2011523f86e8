//! The fuzz targets' corpus and past findings, run through the same entry points as the
//! fuzzers (`fuzz/fuzz_targets/`) on every test run: a parser that panics on any of them fails
//! here, without a fuzzer. `scripts/fuzz` runs the fuzzers themselves (see FUZZING.md).

use std::path::{Path, PathBuf};

use ironsmith_filter::Filter;
use ironsmith_platform_backend::ingest::fuzzing;
use ironsmith_runs::dotted_order::{self, Claims};
use uuid::Uuid;

/// Every file of `fuzz/corpus/<target>` and `fuzz/regressions/<target>`.
fn inputs(target: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let root = ironsmith_test_support::repo_root().join("fuzz");
    let mut found = Vec::new();
    for folder in ["corpus", "regressions"] {
        let dir = root.join(folder).join(target);
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_file() {
                let bytes = std::fs::read(&path)?;
                found.push((path, bytes));
            }
        }
    }
    Ok(found)
}

/// Runs `check` on every input of `target`; at least `minimum` inputs must exist, so an emptied
/// corpus fails instead of passing vacuously.
fn run(target: &str, minimum: usize, check: impl Fn(&Path, &[u8])) -> anyhow::Result<()> {
    let inputs = inputs(target)?;
    anyhow::ensure!(
        inputs.len() >= minimum,
        "{target}: {} inputs, expected at least {minimum}",
        inputs.len()
    );
    for (path, bytes) in &inputs {
        check(path, bytes);
    }
    Ok(())
}

#[test]
fn multipart_corpus() -> anyhow::Result<()> {
    // The seeds include well-formed bodies: at least one must yield operations.
    let accepted = std::cell::Cell::new(0);
    run("multipart", 3, |_, bytes| {
        accepted.set(accepted.get() + fuzzing::multipart("multipart/form-data; boundary=b", bytes));
    })?;
    assert!(accepted.get() > 0, "no seed parsed into an operation");
    Ok(())
}

#[test]
fn decompress_corpus() -> anyhow::Result<()> {
    run("decompress", 2, |_, bytes| {
        if let Some((choice, wire)) = bytes.split_first() {
            fuzzing::decompress(if choice % 2 == 0 { "gzip" } else { "zstd" }, wire);
        }
    })
}

#[test]
fn dotted_order_corpus() -> anyhow::Result<()> {
    run("dotted_order", 2, |_, bytes| {
        if let Ok(text) = std::str::from_utf8(bytes) {
            let _ = dotted_order::parse(text);
            let _ = dotted_order::validate(&Claims {
                id: Uuid::nil(),
                trace_id: Uuid::nil(),
                parent_run_id: None,
                dotted_order: text,
            });
        }
    })
}

#[test]
fn filter_corpus() -> anyhow::Result<()> {
    run("filter", 5, |path, bytes| {
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(filter) = Filter::parse(text)
        {
            let _ = ironsmith_analytics::run_filter::compile(&filter, Uuid::nil());
            let printed = filter.to_string();
            assert!(
                Filter::parse(&printed).is_ok(),
                "{}: {printed}",
                path.display()
            );
        }
    })
}

#[test]
fn otlp_corpus() -> anyhow::Result<()> {
    let accepted = std::cell::Cell::new(0);
    run("otlp_protobuf", 1, |_, bytes| {
        accepted.set(accepted.get() + fuzzing::otlp(bytes, false));
    })?;
    run("otlp_json", 1, |_, bytes| {
        accepted.set(accepted.get() + fuzzing::otlp(bytes, true));
    })?;
    assert!(accepted.get() >= 5, "the seed traces map to runs");
    Ok(())
}
