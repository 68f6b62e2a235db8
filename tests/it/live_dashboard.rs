//! The live dashboard end to end: plain `kmstop` (live mode) in tmux,
//! reading the loopback simulator through the real SDK path. It shows the
//! account and both regions, fills the panes from the backfill, shows the
//! key pending deletion, and quits cleanly — with every request a read.

use crate::support;

use std::time::Duration;

use kmstop::sim::{READ_ONLY_TARGETS, Sim, SimOptions};
use support::tmux::Tmux;

#[test]
fn live_mode_shows_the_account_and_quits_cleanly() {
    let sim = Sim::start(SimOptions {
        seed: 9,
        history: Duration::from_mins(10),
        delay_min: Duration::from_secs(1),
        delay_max: Duration::from_secs(3),
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("live");
    let exit = dir.path().join("exit");
    let cmd = format!(
        "env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_EC2_METADATA_DISABLED=true HOME={dir} \
         KMSTOP_CONFIG_DIR={dir}/config {bin} --endpoint-url {endpoint} --region us-east-1,eu-west-1 \
         --log {dir}/kmstop.log; echo $? > {exit}",
        dir = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_kmstop"),
        endpoint = sim.endpoint(),
        exit = exit.display(),
    );
    tmux.start(160, 45, &cmd);

    // The header names the account and both regions, healthy.
    tmux.wait("the account and healthy regions", |s| {
        s.contains("111122223333") && s.contains("us-east-1 ok") && s.contains("eu-west-1 ok")
    });
    // The backfill fills the panes: principals, and the key inventory with
    // the key pending deletion.
    tmux.wait_for("role/orders-api");
    // The key pending deletion, found with the filter.
    tmux.keys(&["3"]);
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "old-reports"]);
    tmux.keys(&["Enter"]);
    tmux.wait("the key pending deletion, 6 days to go", |s| {
        s.lines()
            .any(|l| l.contains("old-reports") && l.contains("PendingDel"))
            && s.contains(" 6d ")
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_file(&exit), "0");
    assert_eq!(tmux.display("#{alternate_on}"), "0");

    let requests = sim.requests();
    assert!(requests.iter().any(|r| r.target.ends_with("LookupEvents")));
    assert!(requests.iter().any(|r| r.target.ends_with("DescribeKey")));
    for r in &requests {
        assert!(
            READ_ONLY_TARGETS.contains(&r.target.as_str()),
            "{} is not on the read-only allow-list",
            r.target
        );
    }
}
