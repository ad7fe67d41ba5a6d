//! The order engine on the session store. Keys in the `MobileOrder` namespace:
//! `o:ORDER_REF` the order; `login:PENDING_LOGIN_ID` and `holder:HOLDER_KEY` point to an
//! order reference.
//!
//! The tokens an order hands out (QR start token, autostart token, claim token) name
//! their order: they begin with its reference (see [`order_token`]), so that the app's
//! claim and completion read the order directly, one round trip fewer each; a token
//! counts only if it is exactly the one the order holds (its hash, for the claim
//! token). The release that made them so still wrote pointers from the older tokens'
//! form to their orders (`qr:TOKEN`, `auto:TOKEN`, `claim:TOKEN`) for the release before
//! it; this one neither writes nor reads them (docs/operations.md).
//!
//! One order per certificate holder at a time: the app names its certificate when it
//! claims, and a claim while another order of the same holder is in progress stops both
//! (`alreadyInProgress`, as the BankID RP API does), so that an order relayed from an
//! attacker's screen cannot ride along with the user's own login.

use aws_lc_rs::digest::{digest, SHA256};
use base64::Engine as _;
use rustls::pki_types::CertificateDer;
use std::time::Duration;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::order::{ClaimedVia, Collect, Hint, Order, OrderDisplay, OrderState, Status};
use super::{certificate, qr, signature, MobileError};
use crate::login::{complete_certificate_login, LoginContext, LoginMethod};
use crate::session::{random_key, Entry, Namespace, SharedStore, Stored, RANDOM_KEY_LENGTH};

#[derive(Debug, Clone, Copy)]
pub struct OrderSettings {
    /// How long an order may take from start to completion.
    pub lifetime: Duration,
    /// An order that no app has claimed within this time fails with `startFailed`.
    pub start_timeout: Duration,
    /// The oldest QR time accepted, relative to the order's age.
    pub qr_max_age: Duration,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(180),
            start_timeout: Duration::from_secs(30),
            qr_max_age: Duration::from_secs(5),
        }
    }
}

/// What the browser side gets when it starts an order.
#[derive(Debug, Clone)]
pub struct StartedOrder {
    pub order_ref: String,
    pub autostart_token: String,
}

/// How the app found the order.
#[derive(Debug, Clone)]
pub enum ClaimStart {
    Qr(String),
    AutostartToken(String),
}

/// What the claiming app receives.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub order_ref: String,
    pub claim_token: String,
    pub challenge: String,
    pub display: OrderDisplay,
}

#[derive(Clone)]
pub struct OrderEngine {
    store: SharedStore,
    settings: OrderSettings,
}

fn millis(now: OffsetDateTime) -> i64 {
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn hash_hex(secret: &str) -> String {
    hex::encode(digest(&SHA256, secret.as_bytes()))
}

/// Who holds a certificate: its subject at its issuer (SHA-256, hex). A person's
/// certificates from one issuer share it.
fn holder_key(leaf_der: &[u8]) -> Result<String, MobileError> {
    let parts = certificate::parts(leaf_der).ok_or(MobileError::CertificateUnreadable)?;
    let mut context = aws_lc_rs::digest::Context::new(&SHA256);
    context.update(parts.issuer);
    context.update(&[0]);
    context.update(parts.subject);
    Ok(hex::encode(context.finish()))
}

/// A fresh token that leads to order `order_ref` (a random key): the reference followed
/// by another 256 random bits, URL-safe like both (a separator would need escaping in
/// the app link's query, or clash with the QR content's dots).
fn order_token(order_ref: &str) -> String {
    debug_assert_eq!(order_ref.len(), RANDOM_KEY_LENGTH);
    format!("{order_ref}{}", random_key())
}

/// The order `token` names; `None` for a token that names none (not twice a random
/// key long).
fn named_order(token: &str) -> Option<&str> {
    if token.len() == 2 * RANDOM_KEY_LENGTH {
        token.get(..RANDOM_KEY_LENGTH)
    } else {
        None
    }
}

/// Whether `presented` is exactly `expected` (constant time).
fn same_token(presented: &str, expected: &str) -> bool {
    presented.as_bytes().ct_eq(expected.as_bytes()).into()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    crate::session::random_bytes(&mut buffer);
    hex::encode(buffer)
}

impl OrderEngine {
    pub fn new(store: SharedStore, settings: OrderSettings) -> Self {
        Self { store, settings }
    }

    pub fn settings(&self) -> OrderSettings {
        self.settings
    }

    /// Entries outlive the order a little, so that late polls learn that it expired.
    fn ttl(&self) -> Duration {
        self.settings.lifetime + Duration::from_secs(60)
    }

    /// A key that leads to the order `order_ref`.
    fn pointer(&self, key: String, order_ref: &str) -> Entry {
        Entry {
            ns: Namespace::MobileOrder,
            key,
            value: order_ref.as_bytes().to_vec(),
            ttl: self.ttl(),
        }
    }

    async fn resolve(&self, key: String) -> Result<Option<String>, MobileError> {
        let value = self.store.get(Namespace::MobileOrder, &key).await?;
        Ok(value.and_then(|v| String::from_utf8(v).ok()))
    }

    pub async fn find(&self, order_ref: &str) -> Result<Option<Order>, MobileError> {
        Ok(self
            .find_stored(order_ref)
            .await?
            .map(|stored| stored.value))
    }

    /// The order with the bytes it is stored as: a state change compares those bytes,
    /// not the order encoded again, so that an order another release wrote (its fields
    /// in another order, one more or fewer) still moves.
    pub(super) async fn find_stored(
        &self,
        order_ref: &str,
    ) -> Result<Option<Stored<Order>>, MobileError> {
        let Some(bytes) = self
            .store
            .get(Namespace::MobileOrder, &format!("o:{order_ref}"))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Self::decode(bytes)?))
    }

    /// The order stored as `bytes`.
    pub(super) fn decode(bytes: Vec<u8>) -> Result<Stored<Order>, MobileError> {
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| MobileError::Store(crate::session::StoreError::Decode(e.to_string())))?;
        Ok(Stored { value, bytes })
    }

    fn encode(order: Order) -> Result<Stored<Order>, MobileError> {
        let bytes = serde_json::to_vec(&order)
            .map_err(|e| crate::session::StoreError::Decode(e.to_string()))?;
        Ok(Stored {
            value: order,
            bytes,
        })
    }

    /// Moves the order as read (`current`) to `state` if nobody changed it meanwhile;
    /// the new order on success.
    async fn transition(
        &self,
        current: &Stored<Order>,
        state: OrderState,
    ) -> Result<Option<Stored<Order>>, MobileError> {
        let mut next = current.value.clone();
        next.state = state;
        let next = Self::encode(next)?;
        let swapped = self
            .store
            .replace_if(
                Namespace::MobileOrder,
                &format!("o:{}", current.value.order_ref),
                &current.bytes,
                &next.bytes,
                self.ttl(),
            )
            .await?;
        Ok(swapped.then_some(next))
    }

    fn age(&self, order: &Order, now: OffsetDateTime) -> Duration {
        let elapsed = millis(now).saturating_sub(order.started_at_ms);
        Duration::from_millis(u64::try_from(elapsed).unwrap_or(0))
    }

    /// Applies the deadlines: no app within the start timeout → `startFailed`; not complete
    /// within the lifetime → `expiredTransaction`. Returns the current order.
    async fn with_deadlines(
        &self,
        current: Stored<Order>,
        now: OffsetDateTime,
    ) -> Result<Stored<Order>, MobileError> {
        let age = self.age(&current.value, now);
        let timeout = match &current.value.state {
            OrderState::Outstanding if age > self.settings.start_timeout => Some(Hint::StartFailed),
            OrderState::Outstanding | OrderState::Claimed { .. }
                if age > self.settings.lifetime =>
            {
                Some(Hint::ExpiredTransaction)
            }
            _ => None,
        };
        match timeout {
            Some(hint) => match self
                .transition(&current, OrderState::Failed { hint, code: None })
                .await?
            {
                Some(failed) => Ok(failed),
                // Changed meanwhile: report what it is now.
                None => self
                    .find_stored(&current.value.order_ref)
                    .await?
                    .ok_or(MobileError::OrderNotFound),
            },
            None => Ok(current),
        }
    }

    /// Starts an order for a pending login; an earlier order of the same login is cancelled.
    pub async fn start(
        &self,
        pending_login_id: &str,
        display: OrderDisplay,
        now: OffsetDateTime,
    ) -> Result<StartedOrder, MobileError> {
        if let Some(previous) = self.resolve(format!("login:{pending_login_id}")).await? {
            self.cancel(&previous).await?;
        }
        let order_ref = random_key();
        let order = Order {
            qr_start_token: order_token(&order_ref),
            autostart_token: order_token(&order_ref),
            order_ref,
            pending_login_id: pending_login_id.to_owned(),
            display,
            qr_start_secret: random_hex(32),
            started_at_ms: millis(now),
            state: OrderState::Outstanding,
        };
        let Stored {
            value: order,
            bytes,
        } = Self::encode(order)?;
        let order_ref = &order.order_ref;
        // The order and the login's key that leads to it, in one round trip.
        self.store
            .put_many(&[
                Entry {
                    ns: Namespace::MobileOrder,
                    key: format!("o:{order_ref}"),
                    value: bytes,
                    ttl: self.ttl(),
                },
                self.pointer(format!("login:{pending_login_id}"), order_ref),
            ])
            .await?;
        Ok(StartedOrder {
            order_ref: order.order_ref,
            autostart_token: order.autostart_token,
        })
    }

    /// The QR content to show now, while the order waits for an app.
    pub async fn current_qr(
        &self,
        order_ref: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, MobileError> {
        let order = self
            .find_stored(order_ref)
            .await?
            .ok_or(MobileError::OrderNotFound)?;
        let order = self.with_deadlines(order, now).await?.value;
        if order.state != OrderState::Outstanding {
            return Ok(None);
        }
        Ok(qr::qr_content(
            &order.qr_start_token,
            &order.qr_start_secret,
            self.age(&order, now).as_secs(),
        ))
    }

    /// The browser's poll.
    pub async fn collect(
        &self,
        order_ref: &str,
        now: OffsetDateTime,
    ) -> Result<Collect, MobileError> {
        let order = self
            .find_stored(order_ref)
            .await?
            .ok_or(MobileError::OrderNotFound)?;
        self.collect_order(order, now).await
    }

    /// [`OrderEngine::collect`] of an order already read.
    pub(super) async fn collect_order(
        &self,
        order: Stored<Order>,
        now: OffsetDateTime,
    ) -> Result<Collect, MobileError> {
        let order = self.with_deadlines(order, now).await?.value;
        let (status, hint, code, session_id) = match order.state {
            OrderState::Outstanding => (
                Status::Pending,
                Some(Hint::OutstandingTransaction),
                None,
                None,
            ),
            OrderState::Claimed { .. } => (Status::Pending, Some(Hint::UserSign), None, None),
            OrderState::Complete { session_id, .. } => {
                (Status::Complete, None, None, Some(session_id))
            }
            OrderState::Failed { hint, code } => (Status::Failed, Some(hint), code, None),
        };
        Ok(Collect {
            status,
            hint,
            code,
            session_id,
            pending_login_id: order.pending_login_id,
        })
    }

    /// Cancels an order that is not finished (the browser's cancel, or a newer start).
    pub async fn cancel(&self, order_ref: &str) -> Result<(), MobileError> {
        if let Some(order) = self.find_stored(order_ref).await? {
            if matches!(
                order.value.state,
                OrderState::Outstanding | OrderState::Claimed { .. }
            ) {
                self.transition(
                    &order,
                    OrderState::Failed {
                        hint: Hint::Cancelled,
                        code: None,
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The app claims the order with what it scanned or was handed, naming the
    /// certificate it will complete with (`holder_certificate`, DER).
    pub async fn claim(
        &self,
        start: &ClaimStart,
        holder_certificate: &[u8],
        now: OffsetDateTime,
    ) -> Result<Claimed, MobileError> {
        let holder = holder_key(holder_certificate)?;
        let (token, qr_parts) = match start {
            ClaimStart::Qr(content) => {
                let (token, time, code) = qr::parse(content).ok_or(MobileError::QrInvalid)?;
                (token, Some((time, code.to_owned())))
            }
            ClaimStart::AutostartToken(token) => (token.as_str(), None),
        };
        let order_ref = named_order(token).ok_or(MobileError::OrderNotFound)?;
        let stored = self
            .find_stored(order_ref)
            .await?
            .ok_or(MobileError::OrderNotFound)?;
        let handed_out = match start {
            ClaimStart::Qr(_) => &stored.value.qr_start_token,
            ClaimStart::AutostartToken(_) => &stored.value.autostart_token,
        };
        if !same_token(token, handed_out) {
            return Err(MobileError::OrderNotFound);
        }
        let stored = self.with_deadlines(stored, now).await?;
        let order = &stored.value;
        let via = match &qr_parts {
            Some((time, code)) => {
                if !qr::is_authentic(&order.qr_start_secret, *time, code) {
                    return Err(MobileError::QrInvalid);
                }
                let age = self.age(order, now).as_secs();
                if *time > age + 1 || age.saturating_sub(*time) > self.settings.qr_max_age.as_secs()
                {
                    return Err(MobileError::QrStale);
                }
                ClaimedVia::Qr
            }
            None => ClaimedVia::Autostart,
        };
        match &order.state {
            OrderState::Outstanding => {}
            OrderState::Claimed { .. } => {
                // A second app on one order: someone else has the code. Stop the order.
                self.transition(
                    &stored,
                    OrderState::Failed {
                        hint: Hint::Cancelled,
                        code: Some("ORDER_ALREADY_CLAIMED".into()),
                    },
                )
                .await?;
                return Err(MobileError::AlreadyClaimed);
            }
            OrderState::Failed {
                hint: Hint::StartFailed | Hint::ExpiredTransaction,
                ..
            } => return Err(MobileError::Expired),
            _ => return Err(MobileError::NotActive),
        }
        self.hold(&holder, &stored, now).await?;
        let claim_token = order_token(&order.order_ref);
        // 256 random bits in base64url, what the app signs.
        let challenge = random_key();
        let state = OrderState::Claimed {
            via,
            challenge: challenge.clone(),
            claim_token_hash: hash_hex(&claim_token),
            holder,
        };
        // Of concurrent claims, exactly one moves the order.
        self.transition(&stored, state)
            .await?
            .ok_or(MobileError::AlreadyClaimed)?;
        Ok(Claimed {
            order_ref: order.order_ref.clone(),
            claim_token,
            challenge,
            display: order.display.clone(),
        })
    }

    /// Marks `order` as the one order `holder` has in progress. If another order of the
    /// holder is still in progress (outstanding with its claim under way, or claimed),
    /// both stop with `alreadyInProgress`.
    async fn hold(
        &self,
        holder: &str,
        order: &Stored<Order>,
        now: OffsetDateTime,
    ) -> Result<(), MobileError> {
        let key = format!("holder:{holder}");
        for _ in 0..4 {
            if self
                .store
                .insert_new(
                    Namespace::MobileOrder,
                    &key,
                    order.value.order_ref.as_bytes(),
                    self.ttl(),
                )
                .await?
            {
                return Ok(());
            }
            let Some(current) = self.store.get(Namespace::MobileOrder, &key).await? else {
                continue;
            };
            let other_ref = String::from_utf8_lossy(&current).into_owned();
            if other_ref == order.value.order_ref {
                return Ok(());
            }
            let other = match self.find_stored(&other_ref).await? {
                Some(other) => Some(self.with_deadlines(other, now).await?),
                None => None,
            };
            let in_progress = other.as_ref().is_some_and(|o| {
                matches!(
                    o.value.state,
                    OrderState::Outstanding | OrderState::Claimed { .. }
                )
            });
            if in_progress {
                let stop = OrderState::Failed {
                    hint: Hint::AlreadyInProgress,
                    code: Some(MobileError::AlreadyInProgress.code().to_owned()),
                };
                if let Some(other) = &other {
                    self.transition(other, stop.clone()).await?;
                }
                self.transition(order, stop).await?;
                return Err(MobileError::AlreadyInProgress);
            }
            // The holder's previous order is over: this one takes its place.
            if self
                .store
                .replace_if(
                    Namespace::MobileOrder,
                    &key,
                    &current,
                    order.value.order_ref.as_bytes(),
                    self.ttl(),
                )
                .await?
            {
                return Ok(());
            }
        }
        Err(MobileError::AlreadyInProgress)
    }

    /// The order a claim token belongs to, with its challenge; only while claimed.
    async fn claimed_order(
        &self,
        claim_token: &str,
        now: OffsetDateTime,
    ) -> Result<(Stored<Order>, ClaimedVia, String, String), MobileError> {
        let order_ref = named_order(claim_token).ok_or(MobileError::ClaimInvalid)?;
        let order = self
            .find_stored(order_ref)
            .await?
            .ok_or(MobileError::ClaimInvalid)?;
        let order = self.with_deadlines(order, now).await?;
        match &order.value.state {
            OrderState::Claimed {
                via,
                challenge,
                claim_token_hash,
                holder,
            } if bool::from(
                hash_hex(claim_token)
                    .as_bytes()
                    .ct_eq(claim_token_hash.as_bytes()),
            ) =>
            {
                let (via, challenge, holder) = (*via, challenge.clone(), holder.clone());
                Ok((order, via, challenge, holder))
            }
            // A token that names this order but is not the one it handed out.
            OrderState::Claimed { .. } => Err(MobileError::ClaimInvalid),
            OrderState::Failed {
                hint: Hint::ExpiredTransaction,
                ..
            } => Err(MobileError::Expired),
            _ => Err(MobileError::NotActive),
        }
    }

    /// The user declined in the app.
    pub async fn decline(&self, claim_token: &str, now: OffsetDateTime) -> Result<(), MobileError> {
        let (order, _, _, _) = self.claimed_order(claim_token, now).await?;
        self.transition(
            &order,
            OrderState::Failed {
                hint: Hint::UserCancel,
                code: None,
            },
        )
        .await?
        .ok_or(MobileError::NotActive)?;
        Ok(())
    }

    /// The app returns its signature over the challenge and its certificate chain; the
    /// certificate goes through the certificate engine, identity mapping and session
    /// creation like any certificate login.
    pub async fn complete(
        &self,
        ctx: &LoginContext<'_>,
        claim_token: &str,
        signature_algorithm: &str,
        signature: &[u8],
        chain: &[CertificateDer<'_>],
    ) -> Result<(), MobileError> {
        let (order, via, challenge, holder) = self.claimed_order(claim_token, ctx.now).await?;
        let fail = |code: &str| OrderState::Failed {
            hint: Hint::CertificateErr,
            code: Some(code.to_owned()),
        };
        let leaf = chain.first().map(|c| c.as_ref()).unwrap_or_default();
        if holder_key(leaf).ok().as_deref() != Some(holder.as_str()) {
            let error = MobileError::CertificateMismatch;
            self.transition(&order, fail(error.code())).await?;
            return Err(error);
        }
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&challenge)
            .map_err(|_| MobileError::ClaimInvalid)?;
        let possession = match signature::verify(leaf, signature_algorithm, &challenge, signature) {
            Ok(possession) => possession,
            Err(error) => {
                self.transition(&order, fail(error.code())).await?;
                return Err(error);
            }
        };
        let method = match via {
            ClaimedVia::Qr => LoginMethod::MobileQr,
            ClaimedVia::Autostart => LoginMethod::MobileAutostart,
        };
        let ctx = LoginContext {
            method,
            ..ctx.clone()
        };
        match complete_certificate_login(&ctx, chain, Some(&order.value.pending_login_id)).await {
            // A key too weak to check is refused by the engine (and audited there); were
            // it ever accepted, no login without proof of possession may follow.
            Ok(success) if possession == signature::Possession::Uncheckable => {
                let _ = ctx.sessions.delete(&success.session.id).await;
                self.transition(&order, fail(MobileError::SignatureInvalid.code()))
                    .await?;
                Err(MobileError::SignatureInvalid)
            }
            Ok(success) => {
                self.transition(
                    &order,
                    OrderState::Complete {
                        via,
                        session_id: success.session.id,
                    },
                )
                .await?
                .ok_or(MobileError::NotActive)?;
                Ok(())
            }
            Err(failure) => {
                self.transition(&order, fail(failure.code())).await?;
                Err(MobileError::Login(failure))
            }
        }
    }
}
