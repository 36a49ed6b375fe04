//! `kubectl tingyun apply` against the loopback API-server stand-in.
mod support;

use support::apiserver::ApiServer;

#[test]
fn standin_serves_discovery() {
    let api = ApiServer::start();
    assert!(api.kubeconfig().exists());
}
