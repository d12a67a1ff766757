//! `engage aws init`: needs neither the admin token nor the unsubscribe key.

use crate::helpers::engage;

#[cfg(feature = "aws")]
#[test]
fn aws_init_needs_neither_the_admin_token_nor_the_unsubscribe_key() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = rt.block_on(engage_aws::testing::Moto::start());
    let init = || {
        engage()
            .args(["aws", "init", "--backend", "aws"])
            .env("ENGAGE_AWS__ENDPOINT_URL", &moto.endpoint)
            .env("ENGAGE_AWS__REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .unwrap()
    };
    let out = init();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("created ") && stdout.contains("email queue:"),
        "{stdout}"
    );
    // Run again: nothing to create.
    let again = String::from_utf8(init().stdout).unwrap();
    assert!(again.contains("everything was already in place"), "{again}");
    // `serve` on the same backend still needs both.
    let out = engage()
        .args(["serve", "--backend", "aws"])
        .env("ENGAGE_AWS__ENDPOINT_URL", &moto.endpoint)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin_token"));
}
