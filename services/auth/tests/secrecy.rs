//! No response and no log line carries a password, a password hash, a token secret or a
//! refresh token.

mod common;

use common::*;
use plangen_core::testing::CapturedLogs;
use serde_json::json;

#[tokio::test]
async fn secrets_never_reach_logs_or_responses() {
    let captured = CapturedLogs::install();

    let mut seen = String::new();
    for h in harnesses(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "2")]).await {
        let res = h
            .post(
                "/register",
                json!({"email": "ada@example.org", "username": "ada", "password": PASSWORD}),
            )
            .await;
        seen.push_str(&format!("{:?}", res.headers()));
        let body = res.text().await.unwrap();
        seen.push_str(&body);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let refresh = v["refreshToken"].as_str().unwrap().to_owned();
        let access = v["accessToken"].as_str().unwrap().to_owned();

        for password in ["wrong password one", "wrong password two", PASSWORD] {
            let res = h.login("ada", password).await;
            seen.push_str(&res.text().await.unwrap());
        }
        let res = h
            .post(
                "/register",
                json!({"email": "ada@example.org", "username": "ada2", "password": PASSWORD}),
            )
            .await;
        seen.push_str(&res.text().await.unwrap());
        seen.push_str(&h.refresh(&refresh).await.text().await.unwrap());
        seen.push_str(&h.refresh(&refresh).await.text().await.unwrap()); // reuse
        let res = h
            .http
            .put(h.url("/me/password"))
            .bearer_auth(&access)
            .json(&json!({"currentPassword": "not it at all", "newPassword": "another password"}))
            .send()
            .await
            .unwrap();
        seen.push_str(&res.text().await.unwrap());

        let hash = h
            .store()
            .user_by_login("ada")
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        let logs = captured.text();
        assert!(
            logs.contains("POST /api/auth/login 401"),
            "the access log is captured: {logs}"
        );
        for (what, secret) in [
            ("password", PASSWORD),
            ("wrong password", "wrong password one"),
            ("current password attempt", "not it at all"),
            ("password hash", hash.as_str()),
            ("access token secret", ACCESS_SECRET),
            ("refresh token secret", REFRESH_SECRET),
            ("refresh token", refresh.as_str()),
        ] {
            assert!(
                !logs.contains(secret),
                "[{}] the logs contain the {what}",
                h.backend
            );
            if what != "refresh token" {
                assert!(
                    !seen.contains(secret),
                    "[{}] a response contains the {what}",
                    h.backend
                );
            }
        }
        assert!(!seen.contains("$argon2"), "no hash in any response");
    }
}
