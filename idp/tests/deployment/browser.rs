//! A browser for the login: keeps cookies per host, follows redirects itself, presents
//! the person's certificate when a server asks for one, and reaches the public host
//! names where DNS and the load balancers would lead it (here, the listeners' ports).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};

pub struct Page {
    pub url: Url,
    pub status: StatusCode,
    pub location: Option<Url>,
    /// The IdP's `x-request-id` of the answer (audit records carry it).
    pub request_id: Option<String>,
    pub body: String,
}

pub struct Browser {
    pub client: reqwest::Client,
    cookies: Mutex<BTreeMap<(String, String), String>>,
}

impl Browser {
    /// Trusts `ca_pem`, holds the identity `identity_pem` (key and chain), and reaches
    /// each `(host, address)` at that address.
    pub fn new(ca_pem: &str, identity_pem: &str, hosts: &[(String, SocketAddr)]) -> Self {
        let mut builder = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .identity(reqwest::Identity::from_pem(identity_pem.as_bytes()).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20));
        for (host, addr) in hosts {
            builder = builder.resolve(host, *addr);
        }
        Self {
            client: builder.build().unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// `GET url` with this host's cookies; keeps the cookies it sets.
    pub async fn get(&self, url: &Url) -> Page {
        self.try_get(url)
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// [`Browser::get`], with a transport failure (a server gone) as `Err`.
    pub async fn try_get(&self, url: &Url) -> Result<Page, String> {
        let host = url.host_str().unwrap().to_owned();
        let cookies: Vec<String> = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .filter(|((h, _), _)| *h == host)
            .map(|((_, name), value)| format!("{name}={value}"))
            .collect();
        let mut request = self.client.get(url.clone());
        if !cookies.is_empty() {
            request = request.header(COOKIE, cookies.join("; "));
        }
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        for header in response.headers().get_all(SET_COOKIE) {
            let first = header.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = first.split_once('=') {
                let key = (host.clone(), name.trim().to_owned());
                let mut jar = self.cookies.lock().unwrap();
                if value.is_empty() {
                    jar.remove(&key);
                } else {
                    jar.insert(key, value.trim().to_owned());
                }
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| url.join(l.to_str().ok()?).ok())
            .filter(|_| status.is_redirection());
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|id| id.to_str().ok())
            .map(str::to_owned);
        Ok(Page {
            url: url.clone(),
            status,
            location,
            request_id,
            body: response.text().await.map_err(|e| format!("{e:?}"))?,
        })
    }

    /// Follows redirects from `url` until one leads to a URL starting with `prefix`
    /// (the application's, not fetched): `Ok(that URL)`; a page that is not a redirect
    /// ends the walk: `Err(page)`.
    pub async fn open_until(&self, url: &Url, prefix: &str) -> Result<Url, Page> {
        let mut page = self.get(url).await;
        for _ in 0..20 {
            let Some(next) = page.location.take() else {
                return Err(page);
            };
            if next.as_str().starts_with(prefix) {
                return Ok(next);
            }
            page = self.get(&next).await;
        }
        panic!("more than 20 redirects from {url}")
    }
}
