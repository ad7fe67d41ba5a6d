//! Typed views over the byte-oriented store: one namespace and one value type each.

use serde::{de::DeserializeOwned, Serialize};
use std::marker::PhantomData;
use std::time::Duration;

use super::{Entry, Namespace, SharedStore, StoreError, StoreResult};

/// Values of one type in one namespace, stored as JSON.
pub struct TypedStore<T> {
    store: SharedStore,
    ns: Namespace,
    ttl: Duration,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for TypedStore<T> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            ns: self.ns,
            ttl: self.ttl,
            _value: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> TypedStore<T> {
    pub fn new(store: SharedStore, ns: Namespace, ttl: Duration) -> Self {
        Self {
            store,
            ns,
            ttl,
            _value: PhantomData,
        }
    }

    fn encode(value: &T) -> StoreResult<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| StoreError::Decode(e.to_string()))
    }

    fn decode(bytes: Option<Vec<u8>>) -> StoreResult<Option<T>> {
        bytes
            .map(|b| serde_json::from_slice(&b).map_err(|e| StoreError::Decode(e.to_string())))
            .transpose()
    }

    pub async fn put(&self, key: &str, value: &T) -> StoreResult<()> {
        self.store
            .put(self.ns, key, &Self::encode(value)?, self.ttl)
            .await
    }

    /// `value` under `key`, to be stored with others in one [`SessionStore::put_many`].
    pub fn entry(&self, key: &str, value: &T) -> StoreResult<Entry> {
        Ok(Entry {
            ns: self.ns,
            key: key.to_owned(),
            value: Self::encode(value)?,
            ttl: self.ttl,
        })
    }

    pub async fn insert_new(&self, key: &str, value: &T) -> StoreResult<bool> {
        self.store
            .insert_new(self.ns, key, &Self::encode(value)?, self.ttl)
            .await
    }

    pub async fn get(&self, key: &str) -> StoreResult<Option<T>> {
        Self::decode(self.store.get(self.ns, key).await?)
    }

    /// Consumes the value: of concurrent callers, exactly one receives it.
    pub async fn take(&self, key: &str) -> StoreResult<Option<T>> {
        Self::decode(self.store.take(self.ns, key).await?)
    }

    pub async fn delete(&self, key: &str) -> StoreResult<bool> {
        self.store.delete(self.ns, key).await
    }

    /// Moves a value from `expected` to `new` atomically; `false` if it changed meanwhile.
    pub async fn replace_if(&self, key: &str, expected: &T, new: &T) -> StoreResult<bool> {
        self.store
            .replace_if(
                self.ns,
                key,
                &Self::encode(expected)?,
                &Self::encode(new)?,
                self.ttl,
            )
            .await
    }
}

/// Remembers identifiers (SAML request ids, JWT ids) for their validity window and
/// tells whether one was seen before.
#[derive(Clone)]
pub struct ReplayCache {
    store: SharedStore,
}

impl ReplayCache {
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    /// `true` the first time `id` (within `scope`) is seen, `false` on a replay.
    pub async fn is_first_use(
        &self,
        scope: &str,
        id: &str,
        remember_for: Duration,
    ) -> StoreResult<bool> {
        let key = format!("{scope}:{id}");
        self.store
            .insert_new(Namespace::Replay, &key, b"1", remember_for)
            .await
    }
}
