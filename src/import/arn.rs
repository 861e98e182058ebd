//! Rewriting ARNs that point at the source to the target's account and region. Contacts and
//! response plans keep their name in the ARN, so the account and region are all that change;
//! channels and rotations carry an id the target chose, so they are looked up in what this run
//! created or matched.

use crate::domain::arn::Arn;
use std::collections::HashMap;

pub struct ArnMap {
    account: String,
    region: String,
    exact: HashMap<String, String>,
}

impl ArnMap {
    pub fn new(account: &str, region: &str) -> ArnMap {
        ArnMap {
            account: account.into(),
            region: region.into(),
            exact: HashMap::new(),
        }
    }

    pub fn insert(&mut self, source: &str, target: &str) {
        self.exact.insert(source.into(), target.into());
    }

    /// The target's ARN for a source ARN; anything that is not an SSM Contacts or SSM
    /// Incidents ARN (an IAM role, an SNS topic) is kept as it is.
    pub fn rewrite(&self, s: &str) -> String {
        if let Some(t) = self.exact.get(s) {
            return t.clone();
        }
        match Arn::parse(s) {
            Some(mut a) if a.service == "ssm-contacts" || a.service == "ssm-incidents" => {
                a.account = self.account.clone();
                if !a.region.is_empty() {
                    a.region = self.region.clone();
                }
                a.to_string()
            }
            _ => s.to_string(),
        }
    }

    pub fn rewrite_all(&self, v: &[String]) -> Vec<String> {
        v.iter().map(|s| self.rewrite(s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_and_plans_move_to_the_target_account_and_region() {
        let m = ArnMap::new("444455556666", "eu-west-1");
        assert_eq!(
            m.rewrite("arn:aws:ssm-contacts:us-east-1:111122223333:contact/akuam"),
            "arn:aws:ssm-contacts:eu-west-1:444455556666:contact/akuam"
        );
        assert_eq!(
            m.rewrite("arn:aws:ssm-incidents::111122223333:response-plan/checkout"),
            "arn:aws:ssm-incidents::444455556666:response-plan/checkout"
        );
        assert_eq!(
            m.rewrite("arn:aws:iam::111122223333:role/runbook"),
            "arn:aws:iam::111122223333:role/runbook"
        );
        assert_eq!(m.rewrite("not an arn"), "not an arn");
    }

    #[test]
    fn ids_the_target_chose_come_from_the_map() {
        let mut m = ArnMap::new("444455556666", "eu-west-1");
        let src = "arn:aws:ssm-contacts:us-east-1:111122223333:rotation/0a1b";
        let dst = "arn:aws:ssm-contacts:eu-west-1:444455556666:rotation/ffee";
        m.insert(src, dst);
        assert_eq!(m.rewrite(src), dst);
    }
}
