//! `--who` and `--access-key`: the same selection for the dashboard,
//! `report` and `tail`.

use clap::Args;

use crate::who::{Selector, Who};

#[derive(Debug, Clone, Default, Args)]
pub struct WhoArgs {
    /// Only the calls of a credential, session, principal or network:
    /// akid:AKIA…, session:NAME, principal:role/NAME (or its ARN),
    /// ip:ADDR or ip:CIDR; a bare access key id or address also works.
    /// Or the data calls on one resource its encryption context names:
    /// resource:ARN-or-name (`s3://BUCKET` or `s3://BUCKET/PREFIX/` for S3).
    /// Repeat to follow several (a call matching any is kept); what is
    /// left out is counted and said.
    #[arg(long, value_name = "SELECTOR", value_parser = Selector::parse)]
    pub who: Vec<Selector>,

    /// Only the calls signed with this access key id (AKIA…, ASIA…,
    /// ABIA… or ACCA… and 16 characters A-Z or 2-7): the same as
    /// --who akid:ID.
    #[arg(long = "access-key", value_name = "ID", value_parser = access_key)]
    pub access_keys: Vec<Selector>,
}

fn access_key(text: &str) -> Result<Selector, String> {
    crate::who::access_key_id(text)
        .map(Selector::AccessKey)
        .map_err(|e| e.to_string())
}

impl WhoArgs {
    #[must_use]
    pub fn who(&self) -> Who {
        Who::new(self.who.iter().chain(&self.access_keys).cloned().collect())
    }
}
