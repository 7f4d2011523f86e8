//! `POST /playground/experiment` (`/api/v1/playground/experiment` at the edge): runs a prompt
//! and model configuration over a dataset (or one of its splits) as an experiment. It creates
//! the experiment (a project whose reference dataset is the dataset), sends each example's
//! inputs through the playground with bounded concurrency (each call traced into the
//! experiment, linked to its example), scores the answers with the chosen evaluators and
//! records the scores as feedback on the runs: the experiment then shows in the dataset's
//! experiments and comparison view like one `evaluate()` ran. Every step is a call to the
//! public API with the caller's own credentials.
//!
//! The answer is a stream of server-sent events: `start` {experiment_id, experiment_name,
//! total}; `progress` {done, total, example_id, run_id, error}; `end` {experiment_id,
//! dataset_id, done, errors}; `error` {message}.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use ironsmith_auth::RequirePermission;
use ironsmith_auth::perm::RunsCreate;
use ironsmith_http::forward::{Credentials, passed_on};
use ironsmith_http::{ApiError, ValidationIssue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::Result;
use crate::playground_evaluators::{Evaluator, reference_text};

/// Examples one experiment runs at most.
const MAX_EXAMPLES: usize = 2000;
/// Examples read per page.
const PAGE: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentBody {
    pub dataset_id: Uuid,
    /// Only the examples of this split.
    #[serde(default)]
    pub split: Option<String>,
    /// The experiment's name; a dated one by default.
    #[serde(default)]
    pub experiment_name: Option<String>,
    /// What each call gets, as `POST /playground/invoke` takes it (`messages` or `prompt`,
    /// `model_config_id` or `model_config`, `parameters`, `tools`, `output_schema`…); the
    /// example's inputs fill the prompt's variables.
    #[schema(value_type = Object)]
    pub invoke: Map<String, Value>,
    #[serde(default)]
    pub evaluators: Vec<Evaluator>,
    /// Calls at once (at most the operator's `playground.experiment_concurrency`).
    #[serde(default)]
    pub concurrency: Option<usize>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExperimentEvent {
    Start {
        experiment_id: Uuid,
        experiment_name: String,
        total: usize,
    },
    Progress {
        done: usize,
        total: usize,
        example_id: Uuid,
        run_id: Option<Uuid>,
        error: Option<String>,
    },
    End {
        experiment_id: Uuid,
        dataset_id: Uuid,
        done: usize,
        errors: usize,
    },
    Error {
        message: String,
    },
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["body".into(), field.into()],
        msg: message.into(),
        kind: "value_error".into(),
    }])
}

/// The public API, called as the caller.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    backend: url::Url,
    playground: url::Url,
    credentials: Credentials,
    tenant_id: Uuid,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut request = self.http.request(method, url);
        for (name, value) in self.credentials.headers_in(self.tenant_id) {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::ServiceUnavailable(format!("a service is unreachable: {e}")))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(passed_on(status, &body))
        }
    }

    fn backend(&self, path: &str) -> Result<url::Url, ApiError> {
        Ok(self.backend.join(path)?)
    }

    async fn examples(
        &self,
        dataset_id: Uuid,
        split: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let mut all = Vec::new();
        loop {
            let mut url = self.backend("examples")?;
            url.query_pairs_mut()
                .append_pair("dataset", &dataset_id.to_string())
                .append_pair("limit", &PAGE.to_string())
                .append_pair("offset", &all.len().to_string());
            if let Some(split) = split {
                url.query_pairs_mut().append_pair("splits", split);
            }
            let page = self.call(reqwest::Method::GET, url, None).await?;
            let page = page.as_array().cloned().unwrap_or_default();
            let last = page.len() < PAGE;
            all.extend(page);
            if all.len() > MAX_EXAMPLES {
                return Err(ApiError::Rejected(format!(
                    "an experiment runs at most {MAX_EXAMPLES} examples; choose a split"
                )));
            }
            if last {
                return Ok(all);
            }
        }
    }

    async fn invoke(&self, body: &Value) -> Result<Value, ApiError> {
        let url = self.playground.join("playground/invoke")?;
        self.call(reqwest::Method::POST, url, Some(body)).await
    }
}

#[utoipa::path(post, path = "/playground/experiment", operation_id = "run_playground_experiment", tag = "playground",
    request_body = ExperimentBody,
    responses((status = 200, description = "Progress as server-sent events, each a JSON `ExperimentEvent`",
        content_type = "text/event-stream", body = ExperimentEvent)))]
async fn run(
    State(state): State<AppState>,
    caller: RequirePermission<RunsCreate>,
    headers: HeaderMap,
    ironsmith_http::Json(body): ironsmith_http::Json<ExperimentBody>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    for evaluator in &body.evaluators {
        evaluator.check().map_err(|e| invalid("evaluators", e))?;
    }
    if body.invoke.contains_key("stream")
        || body.invoke.contains_key("reference_example_id")
        || body.invoke.contains_key("project_name")
    {
        return Err(invalid(
            "invoke",
            "stream, project_name and reference_example_id are set by the experiment",
        )
        .into());
    }
    let api = Api {
        http: state.http.clone(),
        backend: state.config.endpoints.backend.clone(),
        playground: state.config.endpoints.playground.clone(),
        credentials: Credentials::of(&headers),
        tenant_id: caller.workspace_id,
    };
    let examples = api.examples(body.dataset_id, body.split.as_deref()).await?;
    if examples.is_empty() {
        return Err(ApiError::Rejected("the dataset (or split) has no examples".into()).into());
    }
    let name = body
        .experiment_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("playground-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S")));
    let project = api
        .call(
            reqwest::Method::POST,
            api.backend("sessions")?,
            Some(&json!({"name": name, "reference_dataset_id": body.dataset_id,
                "extra": {"metadata": {"source": "playground", "model_config": body.invoke.get("model_config_id")}}})),
        )
        .await?;
    let experiment_id: Uuid = project
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::internal("the new experiment has no id"))?;
    let concurrency = body
        .concurrency
        .unwrap_or(state.config.playground.experiment_concurrency)
        .clamp(1, state.config.playground.experiment_concurrency);
    let (sender, receiver) = mpsc::channel(64);
    let job = Arc::new(Job {
        api,
        body,
        name,
        experiment_id,
        examples,
    });
    tokio::spawn(async move { job.run(concurrency, sender).await });
    let events =
        futures::stream::unfold(
            receiver,
            |mut r| async move { r.recv().await.map(|e| (e, r)) },
        )
        .map(|event: ExperimentEvent| {
            Ok(Event::default().data(serde_json::to_string(&event).unwrap_or_default()))
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

struct Job {
    api: Api,
    body: ExperimentBody,
    name: String,
    experiment_id: Uuid,
    examples: Vec<Value>,
}

impl Job {
    async fn run(self: Arc<Self>, concurrency: usize, sender: mpsc::Sender<ExperimentEvent>) {
        let total = self.examples.len();
        drop(
            sender
                .send(ExperimentEvent::Start {
                    experiment_id: self.experiment_id,
                    experiment_name: self.name.clone(),
                    total,
                })
                .await,
        );
        let mut done = 0;
        let mut errors = 0;
        let mut outcomes = futures::stream::iter(self.examples.iter().cloned())
            .map(|example| {
                let job = self.clone();
                async move { job.one(&example).await }
            })
            .buffer_unordered(concurrency);
        while let Some((example_id, run_id, error)) = outcomes.next().await {
            done += 1;
            errors += usize::from(error.is_some());
            drop(
                sender
                    .send(ExperimentEvent::Progress {
                        done,
                        total,
                        example_id,
                        run_id,
                        error,
                    })
                    .await,
            );
        }
        self.wait_until_queryable(done - errors).await;
        let ended = self
            .api
            .backend(&format!("sessions/{}", self.experiment_id))
            .map(|url| (url, json!({"end_time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()})));
        if let Ok((url, patch)) = ended
            && let Err(error) = self
                .api
                .call(reqwest::Method::PATCH, url, Some(&patch))
                .await
        {
            tracing::warn!(%error, "the playground experiment could not be closed");
        }
        drop(
            sender
                .send(ExperimentEvent::End {
                    experiment_id: self.experiment_id,
                    dataset_id: self.body.dataset_id,
                    done,
                    errors,
                })
                .await,
        );
    }

    /// Waits (up to 30 s) until the experiment's `count` runs are stored and queryable, so the
    /// comparison view opened at the end shows every one.
    async fn wait_until_queryable(&self, count: usize) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let query = json!({"session": [self.experiment_id], "is_root": true, "limit": 100, "select": ["id"]});
        while tokio::time::Instant::now() < deadline {
            let stored = match self.api.backend("runs/query") {
                Ok(url) => {
                    self.api
                        .call(reqwest::Method::POST, url, Some(&query))
                        .await
                }
                Err(error) => Err(error),
            };
            let found = stored
                .ok()
                .and_then(|page| page.get("runs").and_then(Value::as_array).map(Vec::len));
            if found.is_some_and(|n| n >= count.min(100)) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        tracing::warn!(experiment_id = %self.experiment_id, "the experiment's runs were not all queryable within 30 s");
    }

    /// Runs one example and scores it: its id, the traced run and what went wrong.
    async fn one(&self, example: &Value) -> (Uuid, Option<Uuid>, Option<String>) {
        let example_id = example
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        let mut call = self.body.invoke.clone();
        call.insert(
            "inputs".into(),
            example.get("inputs").cloned().unwrap_or_else(|| json!({})),
        );
        call.insert("stream".into(), json!(false));
        call.insert("project_name".into(), json!(self.name));
        call.insert("reference_example_id".into(), json!(example_id));
        let answer = match self.api.invoke(&Value::Object(call)).await {
            Ok(answer) => answer,
            Err(error) => return (example_id, None, Some(error.to_string())),
        };
        let run_id = answer
            .get("run_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let text = answer
            .pointer("/message/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let reference = example.get("outputs").and_then(reference_text);
        let mut error = None;
        for evaluator in &self.body.evaluators {
            let scored = match evaluator {
                Evaluator::LlmJudge {
                    model_config_id,
                    criteria,
                    ..
                } => {
                    self.judge(
                        *model_config_id,
                        criteria,
                        example,
                        &text,
                        reference.as_deref(),
                    )
                    .await
                }
                other => Ok((
                    other.score(&text, reference.as_deref()).unwrap_or_default(),
                    None,
                )),
            };
            let feedback = match scored {
                Ok((score, comment)) => {
                    json!({"run_id": run_id, "key": evaluator.key(), "score": score, "comment": comment,
                    "feedback_source": {"type": "model", "metadata": {"source": "playground"}}})
                }
                Err(e) => {
                    error = Some(format!("{}: {e}", evaluator.key()));
                    continue;
                }
            };
            if let Some(url) = self.api.backend("feedback").ok()
                && let Err(e) = self
                    .api
                    .call(reqwest::Method::POST, url, Some(&feedback))
                    .await
            {
                error = Some(format!("{}: {e}", evaluator.key()));
            }
        }
        (example_id, run_id, error)
    }

    /// Asks a model to grade the answer; its score and reasoning.
    async fn judge(
        &self,
        model_config_id: Uuid,
        criteria: &str,
        example: &Value,
        answer: &str,
        reference: Option<&str>,
    ) -> Result<(f64, Option<String>), ApiError> {
        let question = example
            .get("inputs")
            .map(Value::to_string)
            .unwrap_or_default();
        let user = format!(
            "Criteria: {criteria}\n\nInput: {question}\n\nAnswer: {answer}\n\nReference answer: {}",
            reference.unwrap_or("(none)")
        );
        let graded = self
            .api
            .invoke(&json!({
                "messages": [
                    {"role": "system", "content": "You grade an answer against the criteria. Reply with a score from 0 (fails) to 1 (meets them fully) and your reasoning."},
                    {"role": "user", "content": user}
                ],
                "template_format": "mustache",
                "model_config_id": model_config_id,
                "output_schema": {"name": "grade", "schema": {"type": "object", "additionalProperties": false, "required": ["score", "reasoning"],
                    "properties": {"score": {"type": "number"}, "reasoning": {"type": "string"}}}},
                "stream": false,
                "project_name": format!("{}-evaluators", self.name),
            }))
            .await?;
        let content = graded
            .pointer("/message/content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let grade: Value = serde_json::from_str(content).map_err(|_| {
            ApiError::Rejected(format!("the judge's answer is not a grade: {content}"))
        })?;
        let score = grade
            .get("score")
            .and_then(Value::as_f64)
            .filter(|s| (0.0..=1.0).contains(s))
            .ok_or_else(|| {
                ApiError::Rejected(format!("the judge's score is not from 0 to 1: {content}"))
            })?;
        Ok((
            score,
            grade
                .get("reasoning")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ))
    }
}
