//! Projects (`tracer_sessions`; `session` on the wire) as the API renders them, with their
//! run and feedback statistics: shared by `/sessions` and the public dataset links.

use std::collections::BTreeMap;

use ironsmith_analytics::run_query::{FeedbackStat, RunStats};
use ironsmith_api_types::runs::{Project, ProjectStats};
use ironsmith_http::ApiError;
use uuid::Uuid;

use crate::AppState;
use crate::runs::render::feedback_stats;
use crate::runs::{project_stats, render_stats};

/// A project's run statistics, feedback statistics on its runs, and project-level feedback
/// statistics, each possibly empty.
type StatsParts<'a> = (
    Option<&'a RunStats>,
    Option<&'a BTreeMap<String, FeedbackStat>>,
    Option<&'a BTreeMap<String, FeedbackStat>>,
);

/// A project, with its statistics when given.
pub fn render(project: &ironsmith_db::projects::Project, stats: Option<StatsParts<'_>>) -> Project {
    let stats = stats.map(|(run_stats, feedback, project_level)| ProjectStats {
        runs: render_stats(run_stats, feedback),
        session_feedback_stats: project_level.map(feedback_stats).unwrap_or_default(),
        test_run_number: None,
    });
    Project {
        id: project.id,
        tenant_id: project.tenant_id,
        name: project.name.clone(),
        description: project.description.clone(),
        start_time: project.start_time,
        end_time: project.end_time,
        extra: project.extra.clone(),
        reference_dataset_id: project.reference_dataset_id,
        default_dataset_id: project.default_dataset_id,
        trace_tier: project
            .trace_tier
            .clone()
            .unwrap_or_else(|| "shortlived".to_owned()),
        last_run_start_time_live: stats.as_ref().and_then(|s| s.runs.last_run_start_time),
        stats,
    }
}

pub async fn render_projects(
    state: &AppState,
    tenant_id: Uuid,
    projects: &[ironsmith_db::projects::Project],
    include_stats: bool,
) -> Result<Vec<Project>, ApiError> {
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
