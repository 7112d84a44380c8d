//! The client's address behind proxies: `TRUST_FORWARDED_FOR` says how many proxies in front
//! of a service append to `X-Forwarded-For`, and the client is the address the outermost of
//! them saw — that many entries from the right. Entries further left came from the client
//! itself and are never believed (a client could pick any address, and with it a fresh
//! rate-limit budget or someone else's login lockout).

use std::net::IpAddr;

use http::HeaderMap;

use crate::config::Env;

/// The most proxies `TRUST_FORWARDED_FOR` may name.
pub const MAX_FORWARDED_HOPS: u8 = 10;

/// `TRUST_FORWARDED_FOR`: `false`/`0` (default; the peer is the client), `true`/`1` (one
/// proxy, e.g. an ingress), or a number of proxies up to [`MAX_FORWARDED_HOPS`] (2 for a
/// service behind the gateway behind an ingress).
pub fn forwarded_hops(env: &mut Env) -> u8 {
    const NAME: &str = "TRUST_FORWARDED_FOR";
    let Some(raw) = env.get(NAME) else { return 0 };
    match raw.trim().to_ascii_lowercase().as_str() {
        "false" | "no" | "off" => 0,
        "true" | "yes" | "on" => 1,
        n => match n.parse::<u8>() {
            Ok(n) if n <= MAX_FORWARDED_HOPS => n,
            _ => {
                env.problem(format!(
                    "{NAME}={raw:?} must be true, false or a number of proxies from 0 to {MAX_FORWARDED_HOPS}"
                ));
                0
            }
        },
    }
}

/// The client's address according to `hops` trusted proxies, from every `X-Forwarded-For`
/// line in order: the `hops`-th entry from the right, or the leftmost when there are fewer
/// (every entry then came from a trusted proxy). `None` with `hops == 0`, without the
/// header, or when that entry is not an IP address.
pub fn forwarded_client(headers: &HeaderMap, hops: u8) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    // Split as bytes: a client's unreadable entry must not hide the proxies' entries after it.
    let mut entries: Vec<&[u8]> = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        entries.extend(line.as_bytes().split(|b| *b == b','));
    }
    let index = entries.len().saturating_sub(usize::from(hops));
    std::str::from_utf8(entries.get(index)?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", l.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_client_is_as_many_entries_from_the_right_as_there_are_trusted_proxies() {
        let chain = xff(&["198.51.100.9, 203.0.113.7", "10.0.0.5"]);
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(forwarded_client(&chain, 0), None);
        assert_eq!(forwarded_client(&chain, 1), ip("10.0.0.5"));
        assert_eq!(forwarded_client(&chain, 2), ip("203.0.113.7"));
        // Fewer entries than proxies: all came from trusted proxies; the leftmost is it.
        assert_eq!(forwarded_client(&chain, 5), ip("198.51.100.9"));
        assert_eq!(
            forwarded_client(&xff(&["2001:db8::1"]), 1),
            ip("2001:db8::1")
        );
        assert_eq!(forwarded_client(&xff(&["not-an-ip"]), 1), None);
        // A client's unreadable entry does not hide the ingress's.
        let mut odd = HeaderMap::new();
        odd.append(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.7").unwrap(),
        );
        assert_eq!(forwarded_client(&odd, 1), ip("203.0.113.7"));
        assert_eq!(forwarded_client(&HeaderMap::new(), 1), None);
    }

    #[test]
    fn trust_is_a_boolean_or_a_number_of_proxies() {
        let hops = |v: &str| {
            let mut env = Env::from_map([("TRUST_FORWARDED_FOR", v)]);
            let n = forwarded_hops(&mut env);
            env.finish().map(|()| n).map_err(|e| e.to_string())
        };
        assert_eq!(hops("false"), Ok(0));
        assert_eq!(hops("0"), Ok(0));
        assert_eq!(hops("true"), Ok(1));
        assert_eq!(hops("1"), Ok(1));
        assert_eq!(hops("2"), Ok(2));
        for bad in ["11", "-1", "maybe"] {
            let e = hops(bad).unwrap_err();
            assert!(e.contains("TRUST_FORWARDED_FOR"), "{bad}: {e}");
        }
        assert_eq!(
            forwarded_hops(&mut Env::from_map(Vec::<(String, String)>::new())),
            0
        );
    }
}
