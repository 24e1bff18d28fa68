//! The cluster view (`/ui`) in a real browser: headless Chromium over WebDriver opens the page a
//! follower serves for a `raftkv cluster --ui-controls` of three nodes, waits until it shows
//! exactly one leader (the one the nodes report), stops that leader with the page's own button and
//! sees another leader within 5 s while the stopped node shows as down, then starts it again with
//! the page and sees it return. The page the leader serves shows the same cluster. A
//! screenshot is saved (`ui_browser.png` in the test's temp directory, printed).
//!
//! Skipped, saying so, without `chromium` and `chromedriver`; `.ci/run` installs them and sets
//! `RAFTKV_REQUIRE_BROWSER=1`, which makes that a failure.

use std::time::{Duration, Instant};

use crate::support::browser::{self, Browser};
use crate::support::cli::Supervisor;
use crate::support::config::write_config;
use crate::support::wait_for;

/// The roles the page shows, in node order, e.g. `1:follower,2:leader,3:follower`.
const ROLES: &str = "return Array.from(document.querySelectorAll('g.node'))\
    .map(g => g.dataset.id + ':' + g.dataset.role).join(',')";

#[test]
fn the_page_follows_a_leader_stopped_with_its_own_button() {
    if !browser::available_or_skip("ui_browser") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, ports) = write_config(dir.path(), 3, "test_faults = true");
    let _supervisor = Supervisor::start_with(&config, &["--ui-controls"]);
    let http = |id: u64| format!("127.0.0.1:{}", ports[id as usize - 1].http);
    let leader = wait_for("a leader", Duration::from_secs(30), || {
        let leader = status(&http(1))?["leader"].as_u64()?;
        (status(&http(leader))?["role"] == "leader").then_some(leader)
    });
    let follower = if leader == 1 { 2 } else { 1 };

    let browser = Browser::start();
    browser.goto(&format!("http://{}/ui", http(follower)));
    let shown = wait_for(
        "the page to show one leader",
        Duration::from_secs(20),
        || {
            let roles = browser.eval(ROLES);
            let roles = roles.as_str()?.to_string();
            let leaders: Vec<&str> = roles
                .split(',')
                .filter(|r| r.ends_with(":leader"))
                .collect();
            (leaders == [format!("{leader}:leader").as_str()] && !roles.contains("down"))
                .then_some(roles)
        },
    );

    // The same cluster from the leader's page.
    let other = Browser::start();
    other.goto(&format!("http://{}/ui", http(leader)));
    wait_for(
        "the leader's page to show the same",
        Duration::from_secs(20),
        || (other.eval(ROLES).as_str() == Some(shown.as_str())).then_some(()),
    );
    drop(other);

    let clicked = Instant::now();
    browser.click(&format!("#btn-stop-{leader}"));
    let (new_leader, roles) = wait_for("a new leader on the page", Duration::from_secs(15), || {
        let roles = browser.eval(ROLES).as_str()?.to_string();
        let leaders: Vec<u64> = roles
            .split(',')
            .filter_map(|r| r.strip_suffix(":leader"))
            .filter_map(|id| id.parse().ok())
            .collect();
        match leaders.as_slice() {
            [id] if *id != leader && roles.contains(&format!("{leader}:down")) => {
                Some((*id, roles))
            }
            _ => None,
        }
    });
    let took = clicked.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the page showed a new leader after {took:?}: {roles}"
    );
    let shot = dir.path().join("ui_browser.png");
    browser.screenshot(&shot);
    eprintln!(
        "ui_browser: node {leader} stopped from the page; node {new_leader} shown as leader \
         {took:?} after the click; screenshot {}",
        shot.display()
    );
    if let Ok(keep) = std::env::var("RAFTKV_UI_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("copy the screenshot");
    }

    browser.click(&format!("#btn-start-{leader}"));
    wait_for(
        "the restarted node back on the page",
        Duration::from_secs(20),
        || {
            let roles = browser.eval(ROLES).as_str()?.to_string();
            (roles.contains(&format!("{leader}:follower")) && !roles.contains("down")).then_some(())
        },
    );
}

/// `GET /v1/status` of the node at `addr`.
fn status(addr: &str) -> Option<serde_json::Value> {
    let mut reply = ureq::get(format!("http://{addr}/v1/status")).call().ok()?;
    serde_json::from_str(&reply.body_mut().read_to_string().ok()?).ok()
}
