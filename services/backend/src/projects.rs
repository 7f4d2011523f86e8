//! Projects (`tracer_sessions`; `session` on the wire) as the API renders them, with their
//! run and feedback statistics: shared by `/sessions` and the public dataset links.

use std::collections::BTreeMap;

use ironsmith_analytics::run_query::{FeedbackStat, RunStats};
use ironsmith_db::projects::Project;
use ironsmith_http::ApiError;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::runs::{project_stats, render_stats};

fn time(t: &chrono::DateTime<chrono::Utc>) -> Value {
    json!(ironsmith_api_types::timestamp::format(t))
}

/// A project's run statistics, feedback statistics on its runs, and project-level feedback
/// statistics, each possibly empty.
type ProjectStats<'a> = (
    Option<&'a RunStats>,
    Option<&'a BTreeMap<String, FeedbackStat>>,
    Option<&'a BTreeMap<String, FeedbackStat>>,
);

/// `TracerSessionWithoutVirtualFields`, plus the statistics of `TracerSession` when given.
pub fn render(project: &Project, stats: Option<ProjectStats<'_>>) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(project.id));
    out.insert("tenant_id".into(), json!(project.tenant_id));
    out.insert("name".into(), json!(project.name));
    out.insert("description".into(), json!(project.description));
    out.insert("start_time".into(), time(&project.start_time));
    out.insert(
        "end_time".into(),
        project.end_time.as_ref().map(time).unwrap_or(Value::Null),
    );
    out.insert("extra".into(), project.extra.clone());
    out.insert(
        "reference_dataset_id".into(),
        json!(project.reference_dataset_id),
    );
    out.insert(
        "default_dataset_id".into(),
        json!(project.default_dataset_id),
    );
    out.insert(
        "trace_tier".into(),
        json!(project.trace_tier.as_deref().unwrap_or("shortlived")),
    );
    out.insert("last_run_start_time_live".into(), Value::Null);
    if let Some((run_stats, feedback, project_level)) = stats {
        let rendered = render_stats(run_stats, feedback);
        out.insert(
            "last_run_start_time_live".into(),
            rendered
                .get("last_run_start_time")
                .cloned()
                .unwrap_or_default(),
        );
        out.extend(rendered);
        out.insert(
            "session_feedback_stats".into(),
            project_level.map_or_else(|| json!({}), crate::runs::render::feedback_stats),
        );
        out.insert("test_run_number".into(), Value::Null);
    }
    Value::Object(out)
}

pub async fn render_projects(
    state: &AppState,
    tenant_id: Uuid,
    projects: &[Project],
    include_stats: bool,
) -> Result<Vec<Value>, ApiError> {
    if !include_stats {
        return Ok(projects.iter().map(|p| render(p, None)).collect());
    }
    let ids: Vec<Uuid> = projects.iter().map(|p| p.id).collect();
    let (stats, feedback, project_level) = project_stats(state, tenant_id, &ids).await?;
    Ok(projects
        .iter()
        .map(|p| {
            render(
                p,
                Some((
                    stats.get(&p.id),
                    feedback.get(&p.id),
                    project_level.get(&p.id),
                )),
            )
        })
        .collect())
}
