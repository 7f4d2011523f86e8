//! The model price table (Postgres `model_prices`) in memory: costs for LLM runs that report
//! tokens but no cost. A workspace's own prices win over the stack-wide defaults; among those
//! that match, the highest priority wins, then the newest.
//!
//! Patterns are tenants' input, run against every LLM run's model name: they are compiled with
//! small size limits (`compile_pattern`), and the table is indexed by workspace, so a run only
//! ever consults its own workspace's patterns and the defaults.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use uuid::Uuid;

/// Longest `match_pattern`, in characters.
pub const MAX_PATTERN_CHARS: usize = 500;

/// Most prices one workspace may define.
pub const MAX_PRICES_PER_WORKSPACE: i64 = 500;

/// Bytes a compiled pattern (and its lazy DFA) may take.
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

/// Compiles a price's pattern within the limits, or says why it cannot be used.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!("is longer than {MAX_PATTERN_CHARS} characters"));
    }
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|error| format!("is not a usable regular expression: {error}"))
}

#[derive(Debug, Clone)]
pub struct Price {
    pub id: Uuid,
    /// `None`: a stack-wide default.
    pub tenant_id: Option<Uuid>,
    /// When set, must equal the run's `ls_provider`.
    pub provider: Option<String>,
    pub pattern: Regex,
    pub prompt_per_million: f64,
    pub completion_per_million: f64,
    pub priority: i32,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// Each workspace's own prices, in the order they are tried.
    by_tenant: HashMap<Uuid, Vec<Price>>,
    /// The stack-wide defaults, in the order they are tried.
    defaults: Vec<Price>,
}

impl PriceTable {
    pub fn new(prices: Vec<Price>) -> Self {
        let mut table = PriceTable::default();
        for price in prices {
            match price.tenant_id {
                Some(tenant) => table.by_tenant.entry(tenant).or_default().push(price),
                None => table.defaults.push(price),
            }
        }
        let order = |prices: &mut Vec<Price>| {
            prices.sort_by(|a, b| {
                b.priority
                    .cmp(&a.priority)
                    .then(b.created_at_us.cmp(&a.created_at_us))
            });
        };
        table.by_tenant.values_mut().for_each(order);
        order(&mut table.defaults);
        table
    }

    pub fn len(&self) -> usize {
        self.defaults.len() + self.by_tenant.values().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The price of `model` from `provider` (which may be empty) for `tenant`.
    pub fn find(&self, tenant: Uuid, provider: &str, model: &str) -> Option<&Price> {
        let matches = |p: &&Price| {
            p.provider
                .as_deref()
                .is_none_or(|want| provider.is_empty() || want == provider)
                && p.pattern.is_match(model)
        };
        self.by_tenant
            .get(&tenant)
            .and_then(|own| own.iter().find(matches))
            .or_else(|| self.defaults.iter().find(matches))
    }

    #[cfg(test)]
    pub(crate) fn defaults_for_tests() -> Self {
        PriceTable::new(vec![Price {
            id: Uuid::nil(),
            tenant_id: None,
            provider: Some("openai".into()),
            pattern: compile_pattern(r"^gpt-4o(-\d{4}-\d{2}-\d{2})?$").expect("regex"),
            prompt_per_million: 2.5,
            completion_per_million: 10.0,
            priority: 0,
            created_at_us: 0,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(tenant: Option<Uuid>, pattern: &str, prompt: f64, priority: i32) -> Price {
        Price {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            provider: None,
            pattern: Regex::new(pattern).expect("regex"),
            prompt_per_million: prompt,
            completion_per_million: 0.0,
            priority,
            created_at_us: 0,
        }
    }

    #[test]
    fn a_workspace_price_wins_then_priority() {
        let mine = Uuid::now_v7();
        let table = PriceTable::new(vec![
            price(None, "^gpt", 1.0, 0),
            price(Some(mine), "^gpt-4o$", 2.0, 0),
            price(None, "^gpt-4o", 3.0, 5),
        ]);
        assert_eq!(
            table.find(mine, "", "gpt-4o").map(|p| p.prompt_per_million),
            Some(2.0)
        );
        let other = Uuid::now_v7();
        assert_eq!(
            table
                .find(other, "", "gpt-4o")
                .map(|p| p.prompt_per_million),
            Some(3.0)
        );
        assert_eq!(
            table.find(other, "", "gpt-3").map(|p| p.prompt_per_million),
            Some(1.0)
        );
        assert!(table.find(other, "", "claude").is_none());
    }

    #[test]
    fn patterns_are_bounded() {
        assert!(compile_pattern(&"a".repeat(MAX_PATTERN_CHARS + 1)).is_err());
        // Small to write, huge to compile: refused instead of built.
        assert!(compile_pattern(r"(\w{100}){100}").is_err());
        assert!(compile_pattern(r"^claude-3-5-sonnet(-\d+)?$").is_ok());
    }
}
