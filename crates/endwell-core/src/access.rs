//! Who may see and change what. The store filters by these rules; handlers
//! never decide access themselves.

use crate::ids::UserId;
use crate::model::Role;

/// The person asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub id: UserId,
    pub role: Role,
}

impl Viewer {
    pub fn of(user: &crate::model::User) -> Viewer {
        Viewer {
            id: user.id,
            role: user.role,
        }
    }
}

/// The practitioners whose caseloads `viewer` may read: their own, and for a
/// supervisor those who name them as supervisor. Admins manage accounts but
/// do not read client data they are not responsible for.
pub fn readable_caseloads(viewer: Viewer, supervisees: &[UserId]) -> Vec<UserId> {
    let mut ids = vec![viewer.id];
    if viewer.role == Role::Supervisor {
        ids.extend(supervisees.iter().copied().filter(|id| *id != viewer.id));
    }
    ids
}

/// Only the responsible practitioner changes a client or engagement;
/// supervisors read.
pub fn can_change(viewer: Viewer, owner: UserId) -> bool {
    viewer.id == owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisors_read_their_team_and_change_only_their_own() {
        let sup = Viewer {
            id: UserId::new(),
            role: Role::Supervisor,
        };
        let pra = Viewer {
            id: UserId::new(),
            role: Role::Practitioner,
        };
        let other = UserId::new();
        assert_eq!(readable_caseloads(sup, &[pra.id]), vec![sup.id, pra.id]);
        assert_eq!(readable_caseloads(pra, &[other]), vec![pra.id]);
        let admin = Viewer {
            id: UserId::new(),
            role: Role::Admin,
        };
        assert_eq!(readable_caseloads(admin, &[pra.id]), vec![admin.id]);
        assert!(!can_change(sup, pra.id));
        assert!(can_change(pra, pra.id));
    }
}
