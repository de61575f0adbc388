//! Who may do what: the roles of the people who sign in to kefu.

use std::fmt;

/// A person's role. Provider staff work across the provider's contracts; a client viewer
/// (甲方) reads one contract's figures, with customer data masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Accounts, contracts, keys, configuration.
    Admin,
    /// Watches the service levels and the agents; reads everything of the contracts.
    Supervisor,
    /// Answers customers.
    Agent,
    /// Reviews conversations for quality.
    QaReviewer,
    /// The client's (甲方) manager: read-only, masked, one contract.
    ClientViewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Supervisor,
        Role::Agent,
        Role::QaReviewer,
        Role::ClientViewer,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
            Role::QaReviewer => "qa_reviewer",
            Role::ClientViewer => "client_viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the role belongs to one contract (and sees nothing else).
    pub fn is_scoped_to_one_contract(self) -> bool {
        self == Role::ClientViewer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_back_from_its_stored_name() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
    }
}
