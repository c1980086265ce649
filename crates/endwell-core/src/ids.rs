//! Typed identifiers. Ids are made by the application (UUIDv7: time-ordered,
//! so indexes stay compact and lists sort by creation) and cannot be mixed up.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A user: practitioner, supervisor or admin.
    UserId
);
id_type!(
    /// A person served.
    ClientId
);
id_type!(
    /// One working relationship between a client and a practitioner.
    EngagementId
);
id_type!(
    /// One version of an engagement's agreement.
    AgreementId
);
id_type!(
    /// One entry of the append-only event log.
    EventId
);
