//! The playground's resources: workspace secrets (names only), saved model configurations, and
//! the internal exchange in which backend hands the playground what one provider call needs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::timestamp;

/// A workspace secret as every API shows it: its name and the last four characters of its
/// value, never the value.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkspaceSecret {
    pub key: String,
    /// Empty when the value is shorter than eight characters.
    pub last_four: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$")]
    pub updated_at: DateTime<Utc>,
}

/// The LLM providers the playground speaks to, each in its own wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// OpenAI's Chat Completions API (or, with `options.api = "responses"`, its Responses API).
    Openai,
    /// Azure OpenAI: `{base_url}/openai/deployments/{deployment}/chat/completions?api-version=`.
    AzureOpenai,
    /// Any server speaking OpenAI's Chat Completions API (vLLM, Ollama, LiteLLM…).
    OpenaiCompatible,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API (`generateContent`).
    GoogleGenai,
    /// Amazon Bedrock's Converse API, signed with AWS Signature Version 4.
    Bedrock,
}

impl Provider {
    /// The `ls_provider` name runs are traced with (what the LangChain integrations report).
    pub fn ls_provider(self) -> &'static str {
        match self {
            Provider::Openai | Provider::OpenaiCompatible => "openai",
            Provider::AzureOpenai => "azure",
            Provider::Anthropic => "anthropic",
            Provider::GoogleGenai => "google_genai",
            Provider::Bedrock => "amazon_bedrock",
        }
    }

    /// The base URL used when a configuration names none.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Provider::Openai => Some("https://api.openai.com/v1"),
            Provider::Anthropic => Some("https://api.anthropic.com"),
            Provider::GoogleGenai => Some("https://generativelanguage.googleapis.com"),
            // Bedrock's comes from the region.
            Provider::AzureOpenai | Provider::OpenaiCompatible | Provider::Bedrock => None,
        }
    }

    /// The secret a configuration of this provider usually reads its key from.
    pub fn default_secret(self) -> Option<&'static str> {
        match self {
            Provider::Openai => Some("OPENAI_API_KEY"),
            Provider::AzureOpenai => Some("AZURE_OPENAI_API_KEY"),
            Provider::Anthropic => Some("ANTHROPIC_API_KEY"),
            Provider::GoogleGenai => Some("GOOGLE_API_KEY"),
            Provider::Bedrock => Some("AWS_SECRET_ACCESS_KEY"),
            Provider::OpenaiCompatible => None,
        }
    }
}

/// The usual sampling parameters; each provider maps those it has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1)]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// `low`, `medium` or `high`: OpenAI's reasoning effort, Anthropic's thinking budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
}

/// Provider specifics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderOptions {
    /// Azure OpenAI: the deployment name (defaults to the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// Azure OpenAI: the `api-version` query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Bedrock: the AWS region (`us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Bedrock: the access key id (an identifier; the secret access key is a workspace secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// OpenAI and OpenAI-compatible servers: which API to call (Chat Completions by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<OpenAiApi>,
}

/// The two generation APIs of OpenAI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpenAiApi {
    /// `POST /chat/completions`.
    Chat,
    /// `POST /responses`.
    Responses,
}

/// What a model configuration is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfigFields {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub provider: Provider,
    #[schema(min_length = 1, max_length = 300)]
    pub model: String,
    /// The provider's API root; required for Azure and OpenAI-compatible servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The workspace secret holding the provider key (the provider's usual name by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    #[serde(default)]
    pub parameters: ModelParameters,
    #[serde(default)]
    pub options: ProviderOptions,
}

/// A saved model configuration of a workspace. Its document schema is written below rather
/// than derived: the derived one would join the fields' schema, which refuses other keys (as a
/// request body must), with the keys a stored configuration adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelConfig {
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[serde(flatten)]
    pub fields: ModelConfigFields,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl utoipa::PartialSchema for ModelConfig {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{
            KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type,
        };
        let mut object = match ModelConfigFields::schema() {
            RefOr::T(Schema::Object(object)) => object,
            _ => Object::new(),
        };
        object.additional_properties = None;
        object.description = Some("A saved model configuration of a workspace.".into());
        let uuid = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                .build()
        };
        let stamp = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(
                    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$",
                ))
                .build()
        };
        for (name, schema) in [
            ("id", uuid()),
            ("tenant_id", uuid()),
            ("created_at", stamp()),
            ("updated_at", stamp()),
        ] {
            object.properties.insert(name.into(), schema.into());
            object.required.push(name.into());
        }
        RefOr::T(Schema::Object(object))
    }
}

impl utoipa::ToSchema for ModelConfig {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <ModelConfigFields as utoipa::ToSchema>::schemas(schemas);
    }
}

/// A hub prompt at a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptRef {
    /// `name` (the caller's workspace) or `owner/name`.
    pub repo: String,
    /// `latest` (the default), a tag or a commit hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Which model a playground call uses: a saved configuration, or one given inline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ModelChoice {
    Saved {
        model_config_id: Uuid,
    },
    Inline {
        model_config: Box<ModelConfigFields>,
    },
}

/// Internal: the playground asks backend, on behalf of the caller whose credentials it
/// forwards, for what one call needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolveRequest {
    #[serde(flatten)]
    pub model: ModelChoice,
    #[serde(default)]
    pub prompt: Option<PromptRef>,
}

/// Internal: backend's answer. Holds the provider key in clear: it only ever travels from
/// backend to the playground.
#[derive(Clone, Serialize, Deserialize)]
pub struct ResolvedCall {
    pub tenant_id: Uuid,
    pub config: ModelConfigFields,
    /// The provider key; `None` when the configuration names no secret.
    pub api_key: Option<String>,
    /// The secret the key came from (named in errors about the key).
    pub secret_key: Option<String>,
    /// The hub prompt's manifest, when one was asked for, with the commit it resolved to.
    pub prompt: Option<ResolvedPrompt>,
}

impl std::fmt::Debug for ResolvedCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedCall")
            .field("tenant_id", &self.tenant_id)
            .field("config", &self.config)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("secret_key", &self.secret_key)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolvedPrompt {
    pub repo: String,
    pub commit_hash: String,
    pub manifest: Value,
}
