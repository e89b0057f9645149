//! Which server a call goes to: `server.address` and `server.port` from a client's base URL.

/// The host and port of a base URL such as `https://api.openai.com/v1`, without its
/// credentials, path or query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// The host name or IP address; `None` when the URL names none.
    pub address: Option<&'a str>,
    /// The port: the URL's own, else its scheme's (443 for `https`, 80 for `http`).
    pub port: Option<i64>,
}

impl<'a> Endpoint<'a> {
    /// The endpoint `url` names. Never fails: what cannot be read is left out.
    pub fn parse(url: &'a str) -> Self {
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, url),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // Credentials (`user:password@`) never leave the process.
        let host_and_port = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let (address, port) = match host_and_port.strip_prefix('[') {
            // An IPv6 address: `[::1]:8080`.
            Some(v6) => match v6.split_once(']') {
                Some((address, after)) => (address, after.strip_prefix(':')),
                None => (v6, None),
            },
            None => match host_and_port.rsplit_once(':') {
                Some((address, port)) => (address, Some(port)),
                None => (host_and_port, None),
            },
        };
        let port = match port.and_then(|port| port.parse::<u16>().ok()) {
            Some(port) => Some(i64::from(port)),
            None => match scheme {
                Some(scheme) if scheme.eq_ignore_ascii_case("https") => Some(443),
                Some(scheme) if scheme.eq_ignore_ascii_case("http") => Some(80),
                _ => None,
            },
        };
        Self {
            address: (!address.is_empty()).then_some(address),
            port,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    fn parsed(url: &str) -> (Option<&str>, Option<i64>) {
        let endpoint = Endpoint::parse(url);
        (endpoint.address, endpoint.port)
    }

    #[test]
    fn host_and_port_of_the_base_urls_clients_use() {
        assert_eq!(
            parsed("https://api.openai.com/v1"),
            (Some("api.openai.com"), Some(443))
        );
        assert_eq!(
            parsed("http://127.0.0.1:11434"),
            (Some("127.0.0.1"), Some(11434))
        );
        assert_eq!(
            parsed("http://localhost:8000/v1/"),
            (Some("localhost"), Some(8000))
        );
        assert_eq!(
            parsed("HTTPS://Example.com"),
            (Some("Example.com"), Some(443))
        );
        assert_eq!(parsed("http://[::1]:8080/v1"), (Some("::1"), Some(8080)));
        assert_eq!(
            parsed("https://[2001:db8::1]/v1"),
            (Some("2001:db8::1"), Some(443))
        );
        assert_eq!(parsed("localhost:11434"), (Some("localhost"), Some(11434)));
        assert_eq!(parsed("gpu-box"), (Some("gpu-box"), None));
    }

    #[test]
    fn credentials_paths_and_garbage_are_left_out() {
        assert_eq!(
            parsed("https://user:s3cret@proxy.internal:8443/v1?key=abc"),
            (Some("proxy.internal"), Some(8443))
        );
        assert_eq!(parsed("http://host:notaport/v1"), (Some("host"), Some(80)));
        assert_eq!(parsed("http://host:99999"), (Some("host"), Some(80)));
        assert_eq!(parsed(""), (None, None));
        assert_eq!(parsed("https://"), (None, Some(443)));
        assert_eq!(parsed("://@/"), (None, None));
    }
}
