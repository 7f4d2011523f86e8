//! The benchmark's traces: ten-run nested traces of seven run types with 1–2 KB of generated
//! text per run, as runs (`Spec`) or as a zstd multipart body shaped like the Python SDK's.

use ironsmith_runs::dotted_order;
use uuid::Uuid;

const TRACE_SIZE: usize = 10;

/// Shapes of the runs of one trace: (parent index, name, run type).
const TRACE: [(Option<usize>, &str, &str); TRACE_SIZE] = [
    (None, "agent", "chain"),
    (Some(0), "retrieve", "retriever"),
    (Some(1), "embed_query", "embedding"),
    (Some(1), "vector_search", "tool"),
    (Some(0), "plan", "llm"),
    (Some(4), "format_prompt", "prompt"),
    (Some(4), "parse_plan", "parser"),
    (Some(0), "answer", "chain"),
    (Some(7), "chat", "llm"),
    (Some(7), "calculator", "tool"),
];

const WORDS: &[&str] = &[
    "the",
    "model",
    "returns",
    "a",
    "structured",
    "answer",
    "about",
    "retrieval",
    "of",
    "documents",
    "vector",
    "index",
    "latency",
    "tokens",
    "prompt",
    "user",
    "asked",
    "whether",
    "pipeline",
    "evaluation",
    "dataset",
    "experiment",
    "feedback",
    "trace",
    "span",
    "context",
    "window",
    "chunk",
    "embedding",
    "similarity",
    "score",
    "ranking",
    "tool",
    "call",
    "result",
    "agent",
];

/// One generated run, enough to write it as multipart parts or as a ClickHouse row.
pub(crate) struct Spec {
    pub(crate) id: Uuid,
    pub(crate) trace_id: Uuid,
    pub(crate) parent: Option<Uuid>,
    pub(crate) dotted_order: String,
    pub(crate) name: &'static str,
    pub(crate) run_type: &'static str,
    pub(crate) start_us: i64,
    pub(crate) end_us: i64,
    pub(crate) inputs: String,
    pub(crate) outputs: String,
    pub(crate) extra: String,
}

pub(crate) struct Generator {
    state: u64,
    project: String,
}

impl Generator {
    pub(crate) fn new(seed: u64, project: &str) -> Self {
        Generator {
            state: seed | 1,
            project: project.to_owned(),
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*: cheap and good enough to keep payloads from compressing to nothing.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn text(&mut self, bytes: usize) -> String {
        let mut out = String::with_capacity(bytes + 16);
        while out.len() < bytes {
            out.push_str(WORDS[(self.next() % WORDS.len() as u64) as usize]);
            out.push(' ');
        }
        out
    }

    /// A trace of `TRACE_SIZE` runs starting now.
    pub(crate) fn trace(&mut self) -> Vec<Spec> {
        self.trace_at(chrono::Utc::now().timestamp_micros())
    }

    /// A trace of `TRACE_SIZE` runs starting at `base` (microseconds).
    pub(crate) fn trace_at(&mut self, base: i64) -> Vec<Spec> {
        let mut specs: Vec<Spec> = Vec::with_capacity(TRACE_SIZE);
        let trace_id = Uuid::now_v7();
        for (index, (parent, name, run_type)) in TRACE.iter().enumerate() {
            let id = if index == 0 { trace_id } else { Uuid::now_v7() };
            let start_us = base + index as i64 * 1000;
            let end_us = start_us + 50_000 + (self.next() % 500_000) as i64;
            let segment = dotted_order::segment(start_us, id);
            let (parent_id, dotted) = match parent {
                Some(p) => (
                    Some(specs[*p].id),
                    format!("{}.{segment}", specs[*p].dotted_order),
                ),
                None => (None, segment),
            };
            let inputs = format!(
                r#"{{"messages":[{{"role":"user","content":"{}"}}],"question":"{}"}}"#,
                self.text(500),
                self.text(120)
            );
            let outputs = if *run_type == "llm" {
                format!(
                    r#"{{"output":"{}","usage_metadata":{{"input_tokens":{},"output_tokens":{},"total_tokens":0}}}}"#,
                    self.text(600),
                    200 + self.next() % 800,
                    20 + self.next() % 300
                )
            } else {
                format!(r#"{{"output":"{}"}}"#, self.text(600))
            };
            let model = if *run_type == "llm" {
                r#","ls_provider":"openai","ls_model_name":"gpt-4o-mini""#
            } else {
                ""
            };
            let extra = format!(
                r#"{{"runtime":{{"sdk":"langsmith-py","sdk_version":"0.15.0","library":"langsmith","platform":"Linux-6.1-x86_64","runtime":"python","py_implementation":"CPython","runtime_version":"3.11.7","langchain_version":null}},"metadata":{{"revision_id":"bench","user_id":"u-{}","thread_id":"t-{}"{model}}}}}"#,
                self.next() % 1000,
                self.next() % 100
            );
            specs.push(Spec {
                id,
                trace_id,
                parent: parent_id,
                dotted_order: dotted,
                name,
                run_type,
                start_us,
                end_us,
                inputs,
                outputs,
                extra,
            });
        }
        specs
    }

    /// A zstd multipart body of `runs` runs in the Python SDK's layout, and its size before
    /// compression.
    pub(crate) fn body(&mut self, runs: usize, boundary: &str) -> (Vec<u8>, usize, Uuid) {
        let mut out = Vec::with_capacity(runs * 2600);
        let mut probe = None;
        let mut written = 0;
        while written < runs {
            for spec in self.trace().into_iter().take(runs - written) {
                probe.get_or_insert(spec.id);
                let run = serde_json::json!({
                    "id": spec.id, "trace_id": spec.trace_id, "parent_run_id": spec.parent,
                    "dotted_order": spec.dotted_order, "name": spec.name, "run_type": spec.run_type,
                    "start_time": ts(spec.start_us), "end_time": ts(spec.end_us),
                    "session_name": self.project, "tags": ["bench"],
                })
                .to_string();
                for (suffix, body) in [
                    (String::new(), run.as_str()),
                    (".inputs".to_owned(), spec.inputs.as_str()),
                    (".outputs".to_owned(), spec.outputs.as_str()),
                    (".extra".to_owned(), spec.extra.as_str()),
                ] {
                    out.extend_from_slice(
                        format!(
                            "--{boundary}\r\nContent-Disposition: form-data; name=\"post.{}{suffix}\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                            spec.id,
                            body.len()
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(body.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                written += 1;
            }
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let size = out.len();
        let compressed = zstd::bulk::compress(&out, 1).unwrap_or(out);
        (compressed, size, probe.unwrap_or_default())
    }
}

fn ts(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}
