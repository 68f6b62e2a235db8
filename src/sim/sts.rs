//! STS `GetCallerIdentity` in awsQuery's XML: the reader role's session.

use super::cast::READER_SESSION;
use super::wire::xml_escape;
use super::world::World;

/// `forged_account`, when given, is answered instead of the account's.
pub fn get_caller_identity(
    world: &World,
    forged_account: Option<&str>,
    request_id: &str,
) -> String {
    let reader = &world.reader;
    let arn = reader.arn(READER_SESSION).unwrap_or_default();
    let user_id = format!("{}:{READER_SESSION}", reader.principal_id);
    format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        xml_escape(&arn),
        xml_escape(&user_id),
        xml_escape(forged_account.unwrap_or(&world.account)),
        xml_escape(request_id)
    )
}
