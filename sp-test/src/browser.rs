//! A minimal browser for the test tools: cookies per host (enough for the IdP's
//! `__Host-` cookies), no automatic redirects, so that each hop is seen; used by
//! `sp-test verify` and `sp-test load`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

/// A minimal browser: cookies per host, no automatic redirects.
pub struct Browser {
    pub client: reqwest::Client,
    pub cookies: Mutex<BTreeMap<(String, String), String>>,
}

pub struct Answer {
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> Option<Url> {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| self.url.join(l).ok())
    }

    pub fn idp_error(&self) -> Option<String> {
        self.headers
            .get("x-idp-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The first form: action and fields (the SAML POST page).
    pub fn form(&self) -> Option<(Url, Vec<(String, String)>)> {
        let start = self.body.find("<form")?;
        let html = &self.body[start..];
        let action = attribute(&html[..html.find('>')?], "action")?;
        let mut fields = Vec::new();
        let mut rest = &html[..html.find("</form>")?];
        while let Some(i) = rest.find("<input") {
            let tag = &rest[i..];
            let end = tag.find('>').unwrap_or(tag.len());
            if let (Some(name), Some(value)) = (
                attribute(&tag[..end], "name"),
                attribute(&tag[..end], "value"),
            ) {
                fields.push((name, value));
            }
            rest = &tag[end..];
        }
        Some((self.url.join(&action).ok()?, fields))
    }
}

pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#34;", "\"")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

impl Browser {
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    pub async fn request(
        &self,
        method: Method,
        url: &Url,
        form: Option<&[(String, String)]>,
        json: Option<&Value>,
    ) -> Result<Answer, String> {
        self.request_through(&self.client, method, url, form, json)
            .await
    }

    /// [`Browser::request`] through another HTTP client with this browser's cookies
    /// (one that keeps no connections, for a new TLS handshake).
    pub async fn request_through(
        &self,
        client: &reqwest::Client,
        method: Method,
        url: &Url,
        form: Option<&[(String, String)]>,
        json: Option<&Value>,
    ) -> Result<Answer, String> {
        let host = url.host_str().unwrap_or_default().to_owned();
        let cookie = {
            let jar = self.cookies.lock().map_err(|_| "cookie jar poisoned")?;
            jar.iter()
                .filter(|((h, _), _)| *h == host)
                .map(|((_, n), v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut request = client.request(method, url.clone());
        if !cookie.is_empty() {
            request = request.header(COOKIE, cookie);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        if let Some(json) = json {
            request = request.json(json);
        }
        let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        {
            let mut jar = self.cookies.lock().map_err(|_| "cookie jar poisoned")?;
            for value in headers.get_all(SET_COOKIE) {
                let Ok(header) = value.to_str() else { continue };
                let first = header.split(';').next().unwrap_or_default();
                if let Some((name, value)) = first.split_once('=') {
                    let key = (host.clone(), name.trim().to_owned());
                    if value.is_empty() || header.to_ascii_lowercase().contains("max-age=0") {
                        jar.remove(&key);
                    } else {
                        jar.insert(key, value.trim().to_owned());
                    }
                }
            }
        }
        let body = response.text().await.unwrap_or_default();
        Ok(Answer {
            url: url.clone(),
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, url: &Url) -> Result<Answer, String> {
        self.request(Method::GET, url, None, None).await
    }

    /// GET and follow redirects while they stay where `keep_going` says.
    pub async fn follow(
        &self,
        mut answer: Answer,
        keep_going: impl Fn(&Url) -> bool,
    ) -> Result<Answer, String> {
        for _ in 0..20 {
            match answer.location().filter(|_| answer.status.is_redirection()) {
                Some(next) if keep_going(&next) => answer = self.get(&next).await?,
                _ => return Ok(answer),
            }
        }
        Err("too many redirects".into())
    }
}
