//! KMS reads for the key inventory.

use aws_config::SdkConfig;

/// KMS for one account × region (standard SDK retries: inventory calls
/// are few and not paced).
#[derive(Debug, Clone)]
pub struct KmsReader {
    #[allow(dead_code)]
    client: aws_sdk_kms::Client,
}

impl KmsReader {
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let conf = aws_sdk_kms::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Self {
            client: aws_sdk_kms::Client::from_conf(conf),
        }
    }
}
