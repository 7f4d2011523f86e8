//! Newtype ids used at the API boundary, so a workspace id is never passed where a run id is
//! expected. Serialised as lowercase hyphenated UUIDs; parsed from any UUID form.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// An organisation.
    OrganizationId
);
id_type!(
    /// A workspace (the API calls it a tenant).
    WorkspaceId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_uuid_form_parses_and_prints_hyphenated_lowercase() {
        let id: WorkspaceId = "3F2504E04F8911D39A0C0305E82C3301"
            .parse()
            .expect("bare hex");
        assert_eq!(id.to_string(), "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        assert_eq!(
            serde_json::to_string(&id).expect("json"),
            "\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\""
        );
    }
}
