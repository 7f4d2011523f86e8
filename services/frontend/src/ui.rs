//! The server-rendered status page at `/status`: each service's readiness, the region, and how
//! to point the SDKs at the stack. It needs no sign-in and works when the app cannot load.

use std::fmt::Write as _;

use axum::response::{Html, IntoResponse, Response};
use futures::future::join_all;
use http_body_util::BodyExt;
use ironsmith_api_types::health::{DependencyState, ReadinessReport};

use crate::AppState;
use crate::proxy;
use crate::routing::Upstream;

const SERVICES: [Upstream; 3] = [
    Upstream::Backend,
    Upstream::PlatformBackend,
    Upstream::Playground,
];

/// The stack's status page (anonymous): each service's readiness and how to point the SDKs
/// at the stack.
pub async fn status_page(state: &AppState) -> Response {
    let reports = join_all(SERVICES.iter().map(|&s| readiness(state, s))).await;
    let config = &state.config;
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"lead\">Region <strong>{region}</strong> &middot; {environment}</p>\
         <h2>Point the LangSmith SDKs here</h2>\
         <pre>export LANGSMITH_ENDPOINT={api}\nexport LANGSMITH_API_KEY=&lt;your key&gt;\nexport LANGSMITH_TRACING=true</pre>\
         <h2>Services</h2><table><thead><tr><th>Service</th><th>Status</th><th>Dependencies</th></tr></thead><tbody>",
        region = escape(config.stack.region.as_str()),
        environment = escape(&config.stack.environment),
        api = escape(config.public.api_url.as_str().trim_end_matches('/')),
    );
    for (service, report) in SERVICES.iter().zip(reports) {
        let (status, deps) = match report {
            Ok(report) => {
                let deps = report
                    .dependencies
                    .iter()
                    .map(|(name, d)| match d.status {
                        DependencyState::Up => {
                            format!("<span class=\"up\">{} up</span>", escape(name))
                        }
                        // Anonymous page: which dependency is down, never why (the reason
                        // names hosts and carries other services' error text; it is logged).
                        DependencyState::Down => {
                            format!("<span class=\"down\">{} down</span>", escape(name))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                let status = if report.is_ready() {
                    "<span class=\"up\">ready</span>"
                } else {
                    "<span class=\"down\">not ready</span>"
                };
                (
                    status.to_owned(),
                    if deps.is_empty() {
                        "none".to_owned()
                    } else {
                        deps
                    },
                )
            }
            // The reason (addresses, client errors) is for the logs, not an anonymous page.
            Err(reason) => {
                tracing::warn!(service = service.name(), %reason, "status page: service unreachable");
                (
                    "<span class=\"down\">unreachable</span>".to_owned(),
                    "unknown".to_owned(),
                )
            }
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{status}</td><td>{deps}</td></tr>",
            service.name()
        );
    }
    body.push_str("</tbody></table><p><a href=\"/\">Open the app</a></p>");
    Html(layout("Ironsmith", &body)).into_response()
}

async fn readiness(state: &AppState, service: Upstream) -> Result<ReadinessReport, String> {
    let response = proxy::get(
        &state.client,
        state.upstreams.base(service),
        "/health/ready",
        state.readiness_timeout,
    )
    .await?;
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("unexpected answer: {e}"))
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1c1c1c}}\
         h1{{font-size:1.6rem}} pre{{background:#f3f3f3;padding:1rem;border-radius:6px;overflow-x:auto}}\
         table{{border-collapse:collapse;width:100%}} td,th{{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd}}\
         .up{{color:#146c2e}} .down{{color:#b3261e;font-weight:600}} .lead{{color:#555}}\
         </style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    )
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
