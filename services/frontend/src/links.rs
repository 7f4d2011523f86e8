//! The pages behind the URLs the official SDKs print (`get_run_url`, project and dataset
//! links, experiment comparisons, share links, prompt commits, deployments). Until the web UI
//! replaces them, each opens a minimal page naming what the link points at and how to read it
//! with the SDK, so a pasted link never lands on "not found".

use crate::ui::escape;

/// What an SDK link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Run {
        project: String,
        run: String,
    },
    Project {
        project: String,
    },
    Dataset {
        dataset: String,
    },
    Comparison {
        dataset: String,
    },
    SharedRun {
        token: String,
    },
    SharedDataset {
        token: String,
    },
    Prompt {
        owner: Option<String>,
        name: String,
        commit: Option<String>,
    },
    Deployment {
        deployment: String,
    },
}

/// Recognises an SDK link by its path (the query string is the caller's).
pub fn recognise(path: &str) -> Option<Link> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let owned = |s: &&str| (*s).to_owned();
    match parts.as_slice() {
        ["o", _, "projects", "p", project, "r", run] => Some(Link::Run {
            project: owned(project),
            run: owned(run),
        }),
        ["o", _, "projects", "p", project] => Some(Link::Project {
            project: owned(project),
        }),
        ["o", _, "datasets", dataset, "compare"] | ["datasets", dataset, "compare"] => {
            Some(Link::Comparison {
                dataset: owned(dataset),
            })
        }
        ["o", _, "datasets", dataset] | ["datasets", dataset] => Some(Link::Dataset {
            dataset: owned(dataset),
        }),
        ["public", token, "r"] => Some(Link::SharedRun {
            token: owned(token),
        }),
        ["public", token, "d"] => Some(Link::SharedDataset {
            token: owned(token),
        }),
        ["prompts", name] => Some(Link::Prompt {
            owner: None,
            name: owned(name),
            commit: None,
        }),
        ["prompts", name, commit] => Some(Link::Prompt {
            owner: None,
            name: owned(name),
            commit: Some(owned(commit)),
        }),
        ["hub", owner, name_and_commit] => {
            let (name, commit) = match name_and_commit.split_once(':') {
                Some((name, commit)) => (name.to_owned(), Some(commit.to_owned())),
                None => ((*name_and_commit).to_owned(), None),
            };
            Some(Link::Prompt {
                owner: Some(owned(owner)),
                name,
                commit,
            })
        }
        ["hub", owner, name, commit] => Some(Link::Prompt {
            owner: Some(owned(owner)),
            name: owned(name),
            commit: Some(owned(commit)),
        }),
        ["o", _, "host", "deployments", deployment] => Some(Link::Deployment {
            deployment: owned(deployment),
        }),
        _ => None,
    }
}

/// The page's title and body.
pub fn page(link: &Link, api: &str) -> (String, String) {
    let code = |text: String| format!("<pre>{}</pre>", escape(&text));
    let note = "<p class=\"lead\">The web UI for this page is on its way; meanwhile, read it \
                with the SDK:</p>";
    match link {
        Link::Run { project, run } => (
            "Run".into(),
            format!(
                "<p>Run <code>{}</code> in project <code>{}</code>.</p>{note}{}",
                escape(run),
                escape(project),
                code(format!("client.read_run(\"{run}\", load_child_runs=True)"))
            ),
        ),
        Link::Project { project } => (
            "Project".into(),
            format!(
                "<p>Project <code>{}</code>.</p>{note}{}",
                escape(project),
                code(format!(
                    "client.list_runs(project_id=\"{project}\", is_root=True)"
                ))
            ),
        ),
        Link::Dataset { dataset } => (
            "Dataset".into(),
            format!(
                "<p>Dataset <code>{}</code>.</p>{note}{}",
                escape(dataset),
                code(format!("client.list_examples(dataset_id=\"{dataset}\")"))
            ),
        ),
        Link::Comparison { dataset } => (
            "Experiments".into(),
            format!(
                "<p>Experiments on dataset <code>{}</code> (the experiments are in this \
                 link's <code>selectedSessions</code>).</p>{note}{}",
                escape(dataset),
                code(format!(
                    "client.list_projects(reference_dataset_id=\"{dataset}\", include_stats=True)"
                ))
            ),
        ),
        Link::SharedRun { token } => (
            "Shared run".into(),
            format!(
                "<p>A shared trace. Anyone with this link can read it, without a key:</p>\
                 <p><a href=\"{api}/public/{t}/run\">{api}/public/{t}/run</a></p>",
                api = escape(api),
                t = escape(token)
            ),
        ),
        Link::SharedDataset { token } => (
            "Shared dataset".into(),
            format!(
                "<p>A shared dataset. Anyone with this link can read it, without a key:</p>\
                 <p><a href=\"{api}/public/{t}/datasets\">{api}/public/{t}/datasets</a></p>",
                api = escape(api),
                t = escape(token)
            ),
        ),
        Link::Prompt {
            owner,
            name,
            commit,
        } => {
            let identifier = format!(
                "{}{name}{}",
                owner.as_ref().map(|o| format!("{o}/")).unwrap_or_default(),
                commit.as_ref().map(|c| format!(":{c}")).unwrap_or_default()
            );
            (
                "Prompt".into(),
                format!(
                    "<p>Prompt <code>{}</code>.</p>{note}{}",
                    escape(&identifier),
                    code(format!("client.pull_prompt(\"{identifier}\")"))
                ),
            )
        }
        Link::Deployment { deployment } => (
            "Deployment".into(),
            format!(
                "<p>Deployment <code>{}</code>.</p><p class=\"lead\">The web UI for \
                 deployments is on its way.</p>",
                escape(deployment)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_link_is_recognised() {
        let cases = [
            (
                "/o/w/projects/p/p1/r/r1",
                Link::Run {
                    project: "p1".into(),
                    run: "r1".into(),
                },
            ),
            (
                "/o/w/projects/p/p1/",
                Link::Project {
                    project: "p1".into(),
                },
            ),
            (
                "/o/w/datasets/d1",
                Link::Dataset {
                    dataset: "d1".into(),
                },
            ),
            (
                "/datasets/d1",
                Link::Dataset {
                    dataset: "d1".into(),
                },
            ),
            (
                "/o/w/datasets/d1/compare",
                Link::Comparison {
                    dataset: "d1".into(),
                },
            ),
            ("/public/t1/r", Link::SharedRun { token: "t1".into() }),
            ("/public/t1/d", Link::SharedDataset { token: "t1".into() }),
            (
                "/prompts/greet/abcd1234",
                Link::Prompt {
                    owner: None,
                    name: "greet".into(),
                    commit: Some("abcd1234".into()),
                },
            ),
            (
                "/hub/team/greet:abcd1234",
                Link::Prompt {
                    owner: Some("team".into()),
                    name: "greet".into(),
                    commit: Some("abcd1234".into()),
                },
            ),
            (
                "/hub/team/greet/abcd1234",
                Link::Prompt {
                    owner: Some("team".into()),
                    name: "greet".into(),
                    commit: Some("abcd1234".into()),
                },
            ),
            (
                "/o/w/host/deployments/x",
                Link::Deployment {
                    deployment: "x".into(),
                },
            ),
        ];
        for (path, link) in cases {
            assert_eq!(recognise(path), Some(link), "{path}");
        }
        assert_eq!(recognise("/nothing/here"), None);
        assert_eq!(recognise("/o/w/projects"), None);
    }

    #[test]
    fn pages_escape_what_the_link_carries() {
        let (_, body) = page(
            &Link::Run {
                project: "<p>".into(),
                run: "\"><script>".into(),
            },
            "http://x/api/v1",
        );
        assert!(!body.contains("<script>"), "{body}");
    }
}
