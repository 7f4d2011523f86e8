//! The rules of a model configuration, shared by the saved configurations' routes and by
//! inline configurations of playground calls.

use ironsmith_api_types::playground::{
    ModelConfigFields, ModelParameters, Provider, ProviderOptions,
};
use ironsmith_db::model_configs::ModelConfig;
use ironsmith_http::{ApiError, ValidationIssue};

/// Configurations one workspace may save.
pub const MAX_PER_WORKSPACE: i64 = 200;

const REASONING_EFFORTS: [&str; 4] = ["minimal", "low", "medium", "high"];

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    let mut loc = vec!["body".to_owned()];
    loc.extend(field.split('.').map(str::to_owned));
    ApiError::Unprocessable(vec![ValidationIssue {
        loc,
        msg: message.into(),
        kind: "value_error".into(),
    }])
}

/// A stored configuration's fields. Rows are written only from [`normalise`]d fields, so a
/// column that does not parse back is a server fault.
pub fn fields_of(row: ModelConfig) -> Result<ModelConfigFields, ApiError> {
    Ok(ModelConfigFields {
        name: row.name,
        provider: serde_json::from_value(serde_json::Value::String(row.provider))?,
        model: row.model,
        base_url: row.base_url,
        secret_key: row.secret_key,
        parameters: serde_json::from_value::<ModelParameters>(row.parameters)?,
        options: serde_json::from_value::<ProviderOptions>(row.options)?,
    })
}

/// Checks a configuration and fills in what has a default (the secret name, Azure's
/// deployment). Base URLs are checked for shape here; where they may point is checked by the
/// playground after DNS resolution, on every call.
pub fn normalise(mut fields: ModelConfigFields) -> Result<ModelConfigFields, ApiError> {
    fields.name = fields.name.trim().to_owned();
    if fields.name.is_empty() || fields.name.chars().count() > 200 {
        return Err(invalid("name", "must be 1 to 200 characters"));
    }
    fields.model = fields.model.trim().to_owned();
    if fields.model.is_empty() || fields.model.chars().count() > 300 {
        return Err(invalid("model", "must be 1 to 300 characters"));
    }
    fields.base_url = fields
        .base_url
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty());
    match &fields.base_url {
        Some(base) => {
            let url = url::Url::parse(base)
                .map_err(|e| invalid("base_url", format!("is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(invalid(
                    "base_url",
                    "must be an http or https URL with a host",
                ));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(invalid(
                    "base_url",
                    "must not carry credentials: keep the key in a workspace secret",
                ));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(invalid("base_url", "must not have a query or fragment"));
            }
        }
        None if fields.provider.default_base_url().is_none()
            && fields.provider != Provider::Bedrock =>
        {
            return Err(invalid(
                "base_url",
                "is required for this provider (the server's API root, e.g. http://host:8000/v1)",
            ));
        }
        None => {}
    }
    fields.secret_key = fields
        .secret_key
        .filter(|k| !k.is_empty())
        .or_else(|| fields.provider.default_secret().map(str::to_owned));
    if let Some(key) = &fields.secret_key
        && !crate::workspace_secrets::valid_key(key)
    {
        return Err(invalid(
            "secret_key",
            "must start with a letter or `_` and hold only letters, digits and `_` (up to 128)",
        ));
    }
    parameters(&fields)?;
    provider_options(&mut fields)?;
    Ok(fields)
}

/// The provider-specific options: each applies to its provider only.
fn provider_options(fields: &mut ModelConfigFields) -> Result<(), ApiError> {
    if fields.provider == Provider::AzureOpenai {
        let options = &mut fields.options;
        if options.deployment.as_deref().is_none_or(str::is_empty) {
            options.deployment = Some(fields.model.clone());
        }
        if options.api_version.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(
                "options.api_version",
                "is required for Azure OpenAI (e.g. 2024-10-21)",
            ));
        }
    } else if fields.options.deployment.is_some() || fields.options.api_version.is_some() {
        return Err(invalid(
            "options",
            "deployment and api_version apply to Azure OpenAI only",
        ));
    }
    let options = &fields.options;
    if fields.provider == Provider::Bedrock {
        let region_ok = options.region.as_deref().is_some_and(|r| {
            !r.is_empty()
                && r.len() <= 32
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
        if !region_ok {
            return Err(invalid(
                "options.region",
                "is required for Bedrock (e.g. us-east-1)",
            ));
        }
        if options
            .access_key_id
            .as_deref()
            .is_none_or(|k| k.is_empty() || k.len() > 128)
        {
            return Err(invalid(
                "options.access_key_id",
                "is required for Bedrock (the secret access key goes in a workspace secret)",
            ));
        }
    } else if options.region.is_some() || options.access_key_id.is_some() {
        return Err(invalid(
            "options",
            "region and access_key_id apply to Bedrock only",
        ));
    }
    if fields.options.api.is_some()
        && !matches!(
            fields.provider,
            Provider::Openai | Provider::OpenaiCompatible
        )
    {
        return Err(invalid(
            "options.api",
            "applies to OpenAI and OpenAI-compatible servers only",
        ));
    }
    Ok(())
}

fn parameters(fields: &ModelConfigFields) -> Result<(), ApiError> {
    let p = &fields.parameters;
    if p.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err(invalid("parameters.temperature", "must be from 0 to 2"));
    }
    if p.top_p.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(invalid("parameters.top_p", "must be from 0 to 1"));
    }
    if p.max_tokens.is_some_and(|m| m == 0 || m > 1_000_000) {
        return Err(invalid(
            "parameters.max_tokens",
            "must be from 1 to 1000000",
        ));
    }
    if let Some(stop) = &p.stop
        && (stop.len() > 4 || stop.iter().any(|s| s.is_empty() || s.len() > 200))
    {
        return Err(invalid(
            "parameters.stop",
            "at most 4 sequences of 1 to 200 bytes",
        ));
    }
    if let Some(effort) = &p.reasoning_effort
        && !REASONING_EFFORTS.contains(&effort.as_str())
    {
        return Err(invalid(
            "parameters.reasoning_effort",
            "must be minimal, low, medium or high",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ironsmith_api_types::playground::{ModelParameters, ProviderOptions};

    use super::*;

    fn fields(provider: Provider, base_url: Option<&str>) -> ModelConfigFields {
        ModelConfigFields {
            name: " gpt ".into(),
            provider,
            model: "gpt-4o-mini".into(),
            base_url: base_url.map(str::to_owned),
            secret_key: None,
            parameters: ModelParameters::default(),
            options: ProviderOptions::default(),
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let openai = normalise(fields(Provider::Openai, None)).expect("valid");
        assert_eq!(openai.name, "gpt");
        assert_eq!(openai.secret_key.as_deref(), Some("OPENAI_API_KEY"));
        let local = normalise(fields(
            Provider::OpenaiCompatible,
            Some("http://localhost:11434/v1/"),
        ))
        .expect("valid");
        assert_eq!(local.base_url.as_deref(), Some("http://localhost:11434/v1"));
        assert_eq!(local.secret_key, None);
    }

    #[test]
    fn bad_configurations_are_refused() {
        assert!(normalise(fields(Provider::OpenaiCompatible, None)).is_err());
        assert!(normalise(fields(Provider::Openai, Some("ftp://x"))).is_err());
        assert!(normalise(fields(Provider::Openai, Some("https://u:p@x.com"))).is_err());
        assert!(
            normalise(fields(
                Provider::AzureOpenai,
                Some("https://x.openai.azure.com")
            ))
            .is_err()
        );
        let mut hot = fields(Provider::Anthropic, None);
        hot.parameters.temperature = Some(3.0);
        assert!(normalise(hot).is_err());
        let mut effort = fields(Provider::Openai, None);
        effort.parameters.reasoning_effort = Some("extreme".into());
        assert!(normalise(effort).is_err());
    }

    #[test]
    fn azure_deploys_the_model_by_default() {
        let mut azure = fields(Provider::AzureOpenai, Some("https://x.openai.azure.com"));
        azure.options.api_version = Some("2024-10-21".into());
        let azure = normalise(azure).expect("valid");
        assert_eq!(azure.options.deployment.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(azure.secret_key.as_deref(), Some("AZURE_OPENAI_API_KEY"));
    }
}
