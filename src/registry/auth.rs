//! Registry authentication: the `Www-Authenticate` challenge, the token
//! response, and the token cache (per registry and scope).
//!
//! The Bearer flow (Docker's token spec, used by Harbor, Alibaba ACR, Huawei
//! SWR, docker-registry with `auth: token`): the registry answers 401 with
//! `Www-Authenticate: Bearer realm="https://.../service/token",
//! service="harbor-registry",scope="repository:apm/agent:pull"`; the client
//! GETs `realm?service=...&scope=...` (Basic credentials, or none for an
//! anonymous pull) and gets `{"token": ..., "expires_in": ...}`; it retries
//! with `Authorization: Bearer TOKEN`.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A parsed `Www-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: Option<String>,
    },
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
        /// `error="insufficient_scope"` and the like.
        error: Option<String>,
    },
}

/// Parse `SCHEME k="v",k2=v2`. Unknown schemes and a Bearer without realm
/// are `None`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r),
        None => (header, ""),
    };
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic {
            realm: params.get("realm").cloned(),
        }),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
            error: params.get("error").cloned(),
        }),
        _ => None,
    }
}

/// `k="v", k2=v2` -> map (keys lowercased). Quoted values may hold commas
/// and `\"`.
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_string();
            }
        }
        let key = key.trim().to_ascii_lowercase();
        if !key.is_empty() {
            out.entry(key).or_insert(value);
        }
        if chars.peek().is_none() {
            break;
        }
    }
    out
}

/// A token service's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// Lifetime in seconds (the spec's default: 60).
    pub expires_in: u64,
}

/// Parse `{"token": ..., "access_token": ..., "expires_in": N}`.
pub fn parse_token_response(body: &[u8]) -> Option<Token> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let token = v
        .get("token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .or_else(|| v.get("access_token").and_then(|t| t.as_str()))
        .filter(|t| !t.is_empty())?;
    let expires_in = v
        .get("expires_in")
        .and_then(|e| e.as_u64())
        .filter(|e| *e > 0)
        .unwrap_or(60);
    Some(Token {
        token: token.to_string(),
        expires_in,
    })
}

/// The scope a request needs: `repository:NAME:ACTIONS`.
pub fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// Tokens per (registry, scope) until shortly before they expire, and the
/// registries that take Basic credentials up front.
#[derive(Debug, Default)]
pub struct AuthCache {
    tokens: Mutex<HashMap<(String, String), (String, Instant)>>,
    basic: Mutex<HashSet<String>>,
    /// Bearer realm/service per registry, learnt from the first challenge,
    /// so that later requests fetch a token before sending.
    bearer: Mutex<HashMap<String, (String, Option<String>)>>,
}

impl AuthCache {
    pub fn token(&self, registry: &str, scope: &str) -> Option<String> {
        let map = self.tokens.lock().ok()?;
        let (token, until) = map.get(&(registry.to_string(), scope.to_string()))?;
        (Instant::now() < *until).then(|| token.clone())
    }

    pub fn store_token(&self, registry: &str, scope: &str, token: &Token) {
        // Renew a little early: 90 % of the lifetime, at least 1 s less.
        let life = Duration::from_secs(token.expires_in);
        let margin = (life / 10).max(Duration::from_secs(1));
        let until = Instant::now() + life.saturating_sub(margin);
        if let Ok(mut map) = self.tokens.lock() {
            map.insert(
                (registry.to_string(), scope.to_string()),
                (token.token.clone(), until),
            );
        }
    }

    pub fn forget_token(&self, registry: &str, scope: &str) {
        if let Ok(mut map) = self.tokens.lock() {
            map.remove(&(registry.to_string(), scope.to_string()));
        }
    }

    pub fn uses_basic(&self, registry: &str) -> bool {
        self.basic.lock().is_ok_and(|s| s.contains(registry))
    }

    pub fn set_basic(&self, registry: &str) {
        if let Ok(mut s) = self.basic.lock() {
            s.insert(registry.to_string());
        }
    }

    pub fn bearer_realm(&self, registry: &str) -> Option<(String, Option<String>)> {
        self.bearer.lock().ok()?.get(registry).cloned()
    }

    pub fn set_bearer_realm(&self, registry: &str, realm: &str, service: Option<&str>) {
        if let Ok(mut m) = self.bearer.lock() {
            m.insert(
                registry.to_string(),
                (realm.to_string(), service.map(str::to_string)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harbor_challenge() {
        let h = r#"Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",scope="repository:apm/agent:pull,push""#;
        assert_eq!(
            parse_challenge(h),
            Some(Challenge::Bearer {
                realm: "https://harbor.example.com/service/token".into(),
                service: Some("harbor-registry".into()),
                scope: Some("repository:apm/agent:pull,push".into()),
                error: None,
            })
        );
    }

    #[test]
    fn basic_and_odd_spacing() {
        assert_eq!(
            parse_challenge(r#"Basic realm="test-realm""#),
            Some(Challenge::Basic {
                realm: Some("test-realm".into())
            })
        );
        assert_eq!(
            parse_challenge("basic"),
            Some(Challenge::Basic { realm: None })
        );
        let c = parse_challenge(
            r#"Bearer  realm = "http://t/x" , service=svc,error="insufficient_scope""#,
        );
        assert!(
            matches!(
                c,
                Some(Challenge::Bearer { ref realm, ref service, ref error, .. })
                    if realm == "http://t/x" && service.as_deref() == Some("svc")
                       && error.as_deref() == Some("insufficient_scope")
            ),
            "{c:?}"
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn token_responses() {
        assert_eq!(
            parse_token_response(br#"{"token":"a","access_token":"a","expires_in":300}"#),
            Some(Token {
                token: "a".into(),
                expires_in: 300
            })
        );
        assert_eq!(
            parse_token_response(br#"{"access_token":"b"}"#).unwrap(),
            Token {
                token: "b".into(),
                expires_in: 60
            }
        );
        assert_eq!(parse_token_response(br#"{"token":""}"#), None);
        assert_eq!(parse_token_response(b"<html>"), None);
    }

    #[test]
    fn cache_is_per_scope_and_expires() {
        let cache = AuthCache::default();
        let t = Token {
            token: "t".into(),
            expires_in: 300,
        };
        cache.store_token("r:5000", "repository:a:pull", &t);
        assert_eq!(
            cache.token("r:5000", "repository:a:pull").as_deref(),
            Some("t")
        );
        assert_eq!(cache.token("r:5000", "repository:b:pull"), None);
        let short = Token {
            token: "s".into(),
            expires_in: 1,
        };
        cache.store_token("r:5000", "repository:c:pull", &short);
        assert_eq!(cache.token("r:5000", "repository:c:pull"), None);
    }
}
