//! Typed views over the byte-oriented store: one namespace and one value type each,
//! turned into bytes by a [`Codec`] (JSON unless the type has an encoding of its own).

use serde::{de::DeserializeOwned, Serialize};
use std::marker::PhantomData;
use std::time::Duration;

use super::{Entry, Namespace, SharedStore, StoreError, StoreResult};

/// How the values of a [`TypedStore`] become the bytes in the store, and back.
pub trait Codec<T>: Clone + Send + Sync + 'static {
    fn encode(&self, value: &T) -> StoreResult<Vec<u8>>;
    fn decode(&self, bytes: &[u8]) -> StoreResult<T>;
}

/// Values stored as JSON: what every namespace used first, and still most of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<T: Serialize + DeserializeOwned> Codec<T> for Json {
    fn encode(&self, value: &T) -> StoreResult<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| StoreError::Decode(e.to_string()))
    }

    fn decode(&self, bytes: &[u8]) -> StoreResult<T> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
    }
}

/// A value as read, with the bytes it was read from: a compare-and-swap that starts
/// from it compares those bytes, so it holds whichever encoding the value was written
/// in (during a change of encoding, nodes write different ones).
#[derive(Debug, Clone)]
pub struct Stored<T> {
    pub value: T,
    pub bytes: Vec<u8>,
}

/// A stored value reads as the value; only a compare-and-swap looks at its bytes.
impl<T> std::ops::Deref for Stored<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// Values of one type in one namespace.
pub struct TypedStore<T, C = Json> {
    store: SharedStore,
    ns: Namespace,
    ttl: Duration,
    codec: C,
    _value: PhantomData<fn() -> T>,
}

impl<T, C: Clone> Clone for TypedStore<T, C> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            ns: self.ns,
            ttl: self.ttl,
            codec: self.codec.clone(),
            _value: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> TypedStore<T> {
    pub fn new(store: SharedStore, ns: Namespace, ttl: Duration) -> Self {
        Self::with_codec(store, ns, ttl, Json)
    }
}

impl<T, C: Codec<T>> TypedStore<T, C> {
    pub fn with_codec(store: SharedStore, ns: Namespace, ttl: Duration, codec: C) -> Self {
        Self {
            store,
            ns,
            ttl,
            codec,
            _value: PhantomData,
        }
    }

    /// The same values, written with `codec` from now on.
    pub fn using(self, codec: C) -> Self {
        Self { codec, ..self }
    }

    fn encode(&self, value: &T) -> StoreResult<Vec<u8>> {
        self.codec.encode(value)
    }

    fn decode(&self, bytes: Option<Vec<u8>>) -> StoreResult<Option<T>> {
        bytes.map(|b| self.codec.decode(&b)).transpose()
    }

    pub async fn put(&self, key: &str, value: &T) -> StoreResult<()> {
        self.store
            .put(self.ns, key, &self.encode(value)?, self.ttl)
            .await
    }

    /// `value` under `key`, to be stored with others in one [`SessionStore::put_many`].
    pub fn entry(&self, key: &str, value: &T) -> StoreResult<Entry> {
        Ok(Entry {
            ns: self.ns,
            key: key.to_owned(),
            value: self.encode(value)?,
            ttl: self.ttl,
        })
    }

    pub async fn insert_new(&self, key: &str, value: &T) -> StoreResult<bool> {
        self.store
            .insert_new(self.ns, key, &self.encode(value)?, self.ttl)
            .await
    }

    pub async fn get(&self, key: &str) -> StoreResult<Option<T>> {
        self.decode(self.store.get(self.ns, key).await?)
    }

    /// The value with the bytes it was read from, for [`TypedStore::replace_stored_if`].
    pub async fn get_stored(&self, key: &str) -> StoreResult<Option<Stored<T>>> {
        let Some(bytes) = self.store.get(self.ns, key).await? else {
            return Ok(None);
        };
        Ok(Some(Stored {
            value: self.codec.decode(&bytes)?,
            bytes,
        }))
    }

    /// `value` with the bytes it is stored as, when written by this node.
    pub fn stored(&self, value: T) -> StoreResult<Stored<T>> {
        let bytes = self.encode(&value)?;
        Ok(Stored { value, bytes })
    }

    /// Consumes the value: of concurrent callers, exactly one receives it.
    pub async fn take(&self, key: &str) -> StoreResult<Option<T>> {
        self.decode(self.store.take(self.ns, key).await?)
    }

    pub async fn delete(&self, key: &str) -> StoreResult<bool> {
        self.store.delete(self.ns, key).await
    }

    /// Moves a value from what was read (`expected`) to `new` atomically; `false` if it
    /// changed meanwhile.
    pub async fn replace_stored_if(
        &self,
        key: &str,
        expected: &Stored<T>,
        new: &T,
    ) -> StoreResult<bool> {
        self.store
            .replace_if(self.ns, key, &expected.bytes, &self.encode(new)?, self.ttl)
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
