//! Levels of assurance. The protocol profiles turn them into their URIs (Swedish eID
//! Framework `http://id.elegnamnden.se/loa/1.0/loa3`, Sambi `http://id.sambi.se/loa/loa3`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Loa {
    Loa2,
    Loa3,
    Loa4,
}

impl Loa {
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            2 => Some(Loa::Loa2),
            3 => Some(Loa::Loa3),
            4 => Some(Loa::Loa4),
            _ => None,
        }
    }

    pub fn level(self) -> u8 {
        match self {
            Loa::Loa2 => 2,
            Loa::Loa3 => 3,
            Loa::Loa4 => 4,
        }
    }

    pub fn swedish_eid_uri(self) -> &'static str {
        match self {
            Loa::Loa2 => "http://id.elegnamnden.se/loa/1.0/loa2",
            Loa::Loa3 => "http://id.elegnamnden.se/loa/1.0/loa3",
            Loa::Loa4 => "http://id.elegnamnden.se/loa/1.0/loa4",
        }
    }

    pub fn sambi_uri(self) -> &'static str {
        match self {
            Loa::Loa2 => "http://id.sambi.se/loa/loa2",
            Loa::Loa3 => "http://id.sambi.se/loa/loa3",
            Loa::Loa4 => "http://id.sambi.se/loa/loa4",
        }
    }
}
