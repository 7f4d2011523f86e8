//! The model price table (Postgres `model_prices`) in memory: costs for LLM runs that report
//! tokens but no cost. A workspace's own prices win over the stack-wide defaults; among those
//! that match, the highest priority wins, then the newest.

use regex::Regex;
use uuid::Uuid;

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
    prices: Vec<Price>,
}

impl PriceTable {
    pub fn new(mut prices: Vec<Price>) -> Self {
        prices.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(b.created_at_us.cmp(&a.created_at_us))
        });
        PriceTable { prices }
    }

    pub fn len(&self) -> usize {
        self.prices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The price of `model` from `provider` (which may be empty) for `tenant`.
    pub fn find(&self, tenant: Uuid, provider: &str, model: &str) -> Option<&Price> {
        let matches = |p: &&Price| {
            p.provider
                .as_deref()
                .is_none_or(|want| provider.is_empty() || want == provider)
                && p.pattern.is_match(model)
        };
        self.prices
            .iter()
            .filter(|p| p.tenant_id == Some(tenant))
            .find(matches)
            .or_else(|| {
                self.prices
                    .iter()
                    .filter(|p| p.tenant_id.is_none())
                    .find(matches)
            })
    }

    #[cfg(test)]
    pub(crate) fn defaults_for_tests() -> Self {
        PriceTable::new(vec![Price {
            id: Uuid::nil(),
            tenant_id: None,
            provider: Some("openai".into()),
            pattern: Regex::new(r"^gpt-4o(-\d{4}-\d{2}-\d{2})?$").expect("regex"),
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
}
