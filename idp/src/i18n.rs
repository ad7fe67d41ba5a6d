//! The texts of the IdP's pages (rendered from `templates/`) and of what the phone app
//! shows, one TOML file per language in `locales/` (embedded in the binary). Swedish is
//! the default language.

use std::collections::HashMap;
use std::sync::LazyLock;

const SWEDISH: &str = include_str!("../locales/sv.toml");
const ENGLISH: &str = include_str!("../locales/en.toml");

static TEXTS: LazyLock<[HashMap<String, String>; 2]> =
    LazyLock::new(|| [parse(SWEDISH), parse(ENGLISH)]);

/// A file that does not parse leaves its language without texts (keys are shown); the
/// unit tests below keep both files whole.
fn parse(text: &str) -> HashMap<String, String> {
    toml::from_str(text).unwrap_or_default()
}

/// The texts of one language.
#[derive(Clone, Copy)]
pub struct Texts(&'static HashMap<String, String>);

impl Texts {
    /// `language` is "sv" or "en" (anything else is Swedish).
    pub fn of(language: &str) -> Self {
        Texts(&TEXTS[usize::from(language == "en")])
    }

    /// The text for `key`, or the key itself when a file lacks it.
    pub fn get<'a>(&self, key: &'a str) -> &'a str
    where
        'static: 'a,
    {
        self.0.get(key).map_or(key, String::as_str)
    }

    /// The text for `key` with its `{name}` placeholders filled in.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t.get("key")` of every template, by scanning the template sources.
    fn keys_used_by_templates() -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for part in text.split("t.get(\"").skip(1) {
                if let Some((key, _)) = part.split_once('"') {
                    keys.push(key.to_owned());
                }
            }
        }
        keys
    }

    #[test]
    fn both_languages_have_every_key_the_templates_use() {
        let keys = keys_used_by_templates();
        assert!(keys.len() > 5, "{keys:?}");
        for (name, text) in [("sv", SWEDISH), ("en", ENGLISH)] {
            let texts: HashMap<String, String> =
                toml::from_str(text).unwrap_or_else(|e| panic!("locales/{name}.toml: {e}"));
            for key in &keys {
                assert!(texts.contains_key(key), "locales/{name}.toml lacks {key}");
            }
        }
    }

    #[test]
    fn both_languages_have_the_same_keys() {
        let sv: HashMap<String, String> = toml::from_str(SWEDISH).unwrap_or_default();
        let en: HashMap<String, String> = toml::from_str(ENGLISH).unwrap_or_default();
        let mut sv_keys: Vec<_> = sv.keys().collect();
        let mut en_keys: Vec<_> = en.keys().collect();
        sv_keys.sort();
        en_keys.sort();
        assert_eq!(sv_keys, en_keys);
        assert_eq!(Texts::of("en").get("brand"), "Regional login service");
        assert_eq!(Texts::of("sv").get("brand"), "Regional inloggningstjänst");
    }
}
