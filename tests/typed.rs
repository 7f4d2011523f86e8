//! The typed half of the test client: answers read into the API's own response types
//! (`ironsmith_api_types`) and checked to be exactly those types — a field the type does not
//! have, or a value it would write differently, fails the test — plus one method per call the
//! tests make most.

use std::any::type_name;

use anyhow::Context;
use ironsmith_api_types::resources::{AnnotationQueue, Dataset, Example, Feedback};
use ironsmith_api_types::runs::{Project, Run, RunsPage};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Answer, Client};

impl Answer {
    /// The body as `T`, after checking the status. The body must be what `T` writes back:
    /// nothing more, nothing else.
    pub fn expect_as<T: DeserializeOwned + Serialize>(self, status: u16) -> anyhow::Result<T> {
        let body = self.expect(status)?;
        let typed: T = serde_path_to_error::deserialize(&body).map_err(|error| {
            anyhow::anyhow!(
                "the answer does not read as {} (at `{}`: {}): {body}",
                type_name::<T>(),
                error.path(),
                error.inner()
            )
        })?;
        let again = serde_json::to_value(&typed)?;
        if again != body {
            anyhow::bail!(
                "the answer is not exactly a {}; differs at {}",
                type_name::<T>(),
                first_difference(&body, &again, "$")
            );
        }
        Ok(typed)
    }
}

/// Where two JSON values first differ, as a path with both sides.
fn first_difference(sent: &Value, typed: &Value, path: &str) -> String {
    match (sent, typed) {
        (Value::Object(a), Value::Object(b)) => a
            .keys()
            .chain(b.keys())
            .find_map(|key| {
                let (x, y) = (a.get(key), b.get(key));
                (x != y).then(|| match (x, y) {
                    (Some(x), Some(y)) => first_difference(x, y, &format!("{path}.{key}")),
                    _ => format!("{path}.{key}: answered {x:?}, typed {y:?}"),
                })
            })
            .unwrap_or_default(),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| {
                (x != y).then(|| first_difference(x, y, &format!("{path}[{i}]")))
            })
            .unwrap_or_default(),
        _ => format!("{path}: answered {sent}, typed {typed}"),
    }
}

impl Client {
    /// `POST /sessions`: a new project.
    pub async fn create_project(&self, name: &str) -> anyhow::Result<Project> {
        self.post("/sessions", json!({"name": name}))
            .await?
            .expect_as(201)
    }

    /// `GET /sessions/{id}`.
    pub async fn project(&self, id: Uuid) -> anyhow::Result<Project> {
        self.get(&format!("/sessions/{id}")).await?.expect_as(200)
    }

    /// `POST /datasets` with `body` (at least a `name`).
    pub async fn create_dataset(&self, body: Value) -> anyhow::Result<Dataset> {
        self.post("/datasets", body).await?.expect_as(200)
    }

    /// `GET /datasets/{id}`.
    pub async fn dataset(&self, id: Uuid) -> anyhow::Result<Dataset> {
        self.get(&format!("/datasets/{id}")).await?.expect_as(200)
    }

    /// `POST /examples`: one example.
    pub async fn create_example(&self, body: Value) -> anyhow::Result<Example> {
        self.post("/examples", body).await?.expect_as(200)
    }

    /// `GET /examples?dataset=…` with extra query pairs (`&as_of=…`, `&splits=…`).
    pub async fn examples(&self, dataset: Uuid, query: &str) -> anyhow::Result<Vec<Example>> {
        self.get(&format!("/examples?dataset={dataset}{query}"))
            .await?
            .expect_as(200)
    }

    /// `GET /examples/{id}`.
    pub async fn example(&self, id: Uuid) -> anyhow::Result<Example> {
        self.get(&format!("/examples/{id}")).await?.expect_as(200)
    }

    /// `POST /feedback`.
    pub async fn create_feedback(&self, body: Value) -> anyhow::Result<Feedback> {
        self.post("/feedback", body).await?.expect_as(200)
    }

    /// `GET /feedback?run=…`.
    pub async fn feedback_on(&self, run: Uuid) -> anyhow::Result<Vec<Feedback>> {
        self.get(&format!("/feedback?run={run}"))
            .await?
            .expect_as(200)
    }

    /// `GET /runs/{id}`.
    pub async fn run(&self, id: Uuid) -> anyhow::Result<Run> {
        self.get(&format!("/runs/{id}")).await?.expect_as(200)
    }

    /// `POST /runs/query` with `body`; every field of each run (no `select`).
    pub async fn query_runs(&self, body: Value) -> anyhow::Result<Vec<Run>> {
        anyhow::ensure!(body.get("select").is_none(), "typed runs carry every field");
        let page: RunsPage = self.post("/runs/query", body).await?.expect_as(200)?;
        Ok(page.runs.into_iter().map(|selected| selected.run).collect())
    }

    /// `POST /annotation-queues` with `body` (at least a `name`).
    pub async fn create_annotation_queue(&self, body: Value) -> anyhow::Result<AnnotationQueue> {
        self.post("/annotation-queues", body).await?.expect_as(200)
    }

    /// The id a created resource was given, from an untyped answer.
    pub fn id_of(body: &Value) -> anyhow::Result<Uuid> {
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .with_context(|| format!("no id in {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: Value) -> Answer {
        Answer {
            status: 200,
            headers: reqwest::header::HeaderMap::new(),
            body,
        }
    }

    #[test]
    fn an_answer_must_be_exactly_its_type() {
        let message = json!({"message": "done"});
        let typed: ironsmith_api_types::resources::Message =
            answer(message.clone()).expect_as(200).expect("a message");
        assert_eq!(typed.message, "done");
        let extra = json!({"message": "done", "undocumented": 1});
        let error = answer(extra)
            .expect_as::<ironsmith_api_types::resources::Message>(200)
            .expect_err("a field the type lacks");
        assert!(error.to_string().contains("$.undocumented"), "{error}");
        let wrong = answer(json!({"message": 3}))
            .expect_as::<ironsmith_api_types::resources::Message>(200)
            .expect_err("a wrong type");
        assert!(error_mentions(&wrong, "message"), "{wrong}");
        assert!(
            answer(message).expect_as::<Value>(201).is_err(),
            "the status is checked"
        );
    }

    fn error_mentions(error: &anyhow::Error, field: &str) -> bool {
        error.to_string().contains(&format!("`{field}`"))
    }
}
