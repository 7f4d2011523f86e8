//! Manifests: stored as pushed, in Postgres or (when large) object storage, and the prompt
//! alone taken out of a prompt-and-model sequence for pulls without the model.

use bytes::Bytes;
use ironsmith_db::hub::{Commit, Repo};
use ironsmith_http::ApiError;
use ironsmith_storage::ObjectStorage;
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

/// Manifests up to this size are kept in Postgres; larger ones in object storage.
pub const INLINE_MANIFEST_BYTES: usize = 256 * 1024;

/// Where a manifest went: inline text, or an object-storage key.
pub(crate) struct Stored {
    pub inline: Option<String>,
    pub key: Option<String>,
}

pub(crate) async fn store(
    storage: &ObjectStorage,
    repo: &Repo,
    commit_id: Uuid,
    text: &str,
) -> Result<Stored, ApiError> {
    if text.len() <= INLINE_MANIFEST_BYTES {
        return Ok(Stored {
            inline: Some(text.to_owned()),
            key: None,
        });
    }
    let key = format!("hub/{}/{}/{commit_id}.json", repo.tenant_id, repo.id);
    storage
        .put(&key, Bytes::copy_from_slice(text.as_bytes()))
        .await?;
    Ok(Stored {
        inline: None,
        key: Some(key),
    })
}

pub(crate) async fn load(
    storage: &ObjectStorage,
    commit: &Commit,
) -> Result<Box<RawValue>, ApiError> {
    let text = match (&commit.manifest, &commit.manifest_key) {
        (Some(text), _) => text.clone(),
        (None, Some(key)) => {
            let bytes = storage.get(key).await?;
            String::from_utf8(bytes.to_vec())?
        }
        (None, None) => {
            return Err(ApiError::internal(std::io::Error::other(format!(
                "commit {} has no manifest",
                commit.id
            ))));
        }
    };
    Ok(RawValue::from_string(text)?)
}

/// A LangChain `RunnableSequence` of a prompt and a model, as `dumpd` writes it.
#[derive(Deserialize)]
struct Sequence<'a> {
    #[serde(borrow)]
    id: Vec<&'a str>,
    #[serde(borrow)]
    kwargs: SequenceSteps<'a>,
}

#[derive(Deserialize)]
struct SequenceSteps<'a> {
    #[serde(borrow)]
    first: &'a RawValue,
}

/// The manifest a pull without `include_model` returns: the prompt alone when the manifest is
/// a prompt followed by a model (its first step, verbatim), else the manifest unchanged.
pub fn without_model(manifest: &RawValue) -> Box<RawValue> {
    match serde_json::from_str::<Sequence<'_>>(manifest.get()) {
        Ok(sequence) if sequence.id.last() == Some(&"RunnableSequence") => {
            sequence.kwargs.first.to_owned()
        }
        _ => manifest.to_owned(),
    }
}

/// LangChain chat model classes and the provider names the playground knows them by.
const MODEL_PROVIDERS: [(&str, &str); 6] = [
    ("ChatOpenAI", "openai"),
    ("AzureChatOpenAI", "azure_openai"),
    ("ChatAnthropic", "anthropic"),
    ("ChatGoogleGenerativeAI", "google_genai"),
    ("ChatBedrockConverse", "bedrock"),
    ("ChatBedrock", "bedrock"),
];

/// The model of a prompt-and-model manifest: its provider (from the model's class, or the
/// class name itself when it is not one the playground knows) and its constructor arguments.
pub fn model_of(manifest: &RawValue) -> Option<(String, serde_json::Value)> {
    let value: serde_json::Value = serde_json::from_str(manifest.get()).ok()?;
    let class =
        |v: &serde_json::Value| v.get("id")?.as_array()?.last()?.as_str().map(str::to_owned);
    if class(&value)?.as_str() != "RunnableSequence" {
        return None;
    }
    let last = value.get("kwargs")?.get("last")?;
    let model_class = class(last)?;
    let provider = MODEL_PROVIDERS
        .iter()
        .find(|(c, _)| *c == model_class)
        .map_or(model_class.clone(), |(_, p)| (*p).to_owned());
    Some((provider, last.get("kwargs").cloned().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_of_a_prompt_and_model_manifest_is_read() {
        let manifest = raw(
            r#"{"lc":1,"type":"constructor","id":["langchain","schema","runnable","RunnableSequence"],
               "kwargs":{"first":{"lc":1,"id":["langchain","prompts","chat","ChatPromptTemplate"],"kwargs":{}},
                         "last":{"lc":1,"type":"constructor","id":["langchain","chat_models","anthropic","ChatAnthropic"],
                                 "kwargs":{"model":"claude-sonnet-4-5","temperature":0.2}}}}"#,
        );
        let (provider, kwargs) = model_of(&manifest).expect("a model");
        assert_eq!(provider, "anthropic");
        assert_eq!(kwargs["model"], "claude-sonnet-4-5");
        assert!(
            model_of(&raw(
                r#"{"id":["langchain","prompts","chat","ChatPromptTemplate"]}"#
            ))
            .is_none()
        );
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("json")
    }

    #[test]
    fn a_prompt_and_model_pull_without_the_model_keeps_the_prompt_verbatim() {
        let prompt = r#"{"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "chat", "ChatPromptTemplate"], "kwargs": {"messages": []}}"#;
        let sequence = format!(
            r#"{{"lc":1,"type":"constructor","id":["langchain","schema","runnable","RunnableSequence"],"kwargs":{{"first": {prompt},"last":{{"lc":1,"id":["langchain","chat_models","openai","ChatOpenAI"]}}}}}}"#
        );
        assert_eq!(without_model(&raw(&sequence)).get(), prompt);
        assert_eq!(without_model(&raw(prompt)).get(), prompt);
        assert_eq!(without_model(&raw("[1,2]")).get(), "[1,2]");
    }
}
