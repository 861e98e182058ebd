//! ARNs as AWS forms them. Contacts ARNs are regional; incidents ARNs have an empty region.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    /// `contact`, `contact-channel`, `engagement`, `page`, `rotation`, `response-plan`, …
    pub resource_type: String,
    /// Everything after `resource_type/`.
    pub resource: String,
}

impl Arn {
    pub fn parse(s: &str) -> Option<Arn> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?.to_string();
        let service = parts.next()?.to_string();
        let region = parts.next()?.to_string();
        let account = parts.next()?.to_string();
        let (resource_type, resource) = parts.next()?.split_once('/')?;
        if partition.is_empty() || service.is_empty() || account.is_empty() || resource.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource_type: resource_type.to_string(),
            resource: resource.to_string(),
        })
    }
}

impl std::fmt::Display for Arn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}/{}",
            self.partition,
            self.service,
            self.region,
            self.account,
            self.resource_type,
            self.resource
        )
    }
}

pub fn contacts_arn(region: &str, account: &str, resource_type: &str, resource: &str) -> String {
    format!("arn:aws:ssm-contacts:{region}:{account}:{resource_type}/{resource}")
}

pub fn incidents_arn(account: &str, resource_type: &str, resource: &str) -> String {
    format!("arn:aws:ssm-incidents::{account}:{resource_type}/{resource}")
}

/// A fresh lowercase 8-4-4-4-12 id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A sort key that follows creation order, also for records made in the same millisecond.
pub fn creation_sort_key(now_ms: i64) -> String {
    format!("{now_ms:016}-{}", uuid::Uuid::now_v7())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let s = "arn:aws:ssm-contacts:us-east-2:111122223333:contact-channel/akuam/e5bd2c57-406a-487f-8d26-7c032example";
        let a = Arn::parse(s).unwrap();
        assert_eq!(a.resource_type, "contact-channel");
        assert_eq!(a.resource, "akuam/e5bd2c57-406a-487f-8d26-7c032example");
        assert_eq!(a.to_string(), s);
        let i = Arn::parse("arn:aws:ssm-incidents::111122223333:response-plan/rp").unwrap();
        assert_eq!((i.region.as_str(), i.resource.as_str()), ("", "rp"));
        assert!(Arn::parse("arn:aws:ssm-contacts:us-east-1:1:contact").is_none());
        assert!(Arn::parse("not-an-arn").is_none());
        assert_eq!(
            contacts_arn("us-east-1", "1", "contact", "a"),
            "arn:aws:ssm-contacts:us-east-1:1:contact/a"
        );
        assert_eq!(new_id().len(), 36);
    }
}
