//! Sessions on one token: a keeper session that owns the session objects,
//! and a pool of sessions for the cryptographic calls.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::Pkcs11Config;
use super::fault::{poisoned, rv, unavailable, unavailable_because};
use crate::ModuleError;

/// Idle sessions kept open; more are opened under load and closed after.
const MAX_IDLE: usize = 8;

/// `cryptoki::session::Session` is `Send` but not `Sync`, so each session
/// is used by one thread at a time: the keeper behind its own lock, the
/// others taken out of the pool for one call.
///
/// The token destroys a session object when the session that created it
/// closes, so every object is created in the keeper, which stays open for
/// the module's life. Pool sessions own nothing and are closed freely.
pub(super) struct SessionPool {
    ctx: Pkcs11,
    slot: Slot,
    pin: AuthPin,
    keeper: Mutex<Option<Session>>,
    idle: Mutex<Vec<Session>>,
    /// Set when the token answered CKR_USER_NOT_LOGGED_IN: log in again first.
    relogin: AtomicBool,
    /// Bumped whenever the session objects are lost (keeper gone, logged out).
    generation: AtomicU64,
}

impl SessionPool {
    pub(super) fn open(config: &Pkcs11Config) -> Result<Self, ModuleError> {
        let ctx = Pkcs11::new(config.module_path()).map_err(|e| unavailable(&e))?;
        // Another module in this process may have initialised the library.
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(unavailable(&e)),
        }
        let slot = find_slot(&ctx, config.token_label())?;
        let pool = SessionPool {
            ctx,
            slot,
            pin: AuthPin::from(config.user_pin()),
            keeper: Mutex::new(None),
            idle: Mutex::new(Vec::new()),
            relogin: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        };
        let keeper = pool.new_session()?;
        *pool.keeper.lock().map_err(poisoned)? = Some(keeper);
        Ok(pool)
    }

    /// Which set of session objects is current; a cached session object of
    /// another generation is gone.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn new_session(&self) -> Result<Session, ModuleError> {
        let session = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(|e| unavailable(&e))?;
        // Login is per token and application: a new session is logged in
        // if any other session is, and the token logs out with its last session.
        let state = session
            .get_session_info()
            .map_err(|e| unavailable(&e))?
            .session_state();
        if self.relogin.load(Ordering::SeqCst)
            || !matches!(state, SessionState::RwUser | SessionState::RoUser)
        {
            self.login(&session)?;
        }
        Ok(session)
    }

    fn login(&self, session: &Session) -> Result<(), ModuleError> {
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                self.relogin.store(false, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    /// What a failure on `session` means. A token logged out elsewhere
    /// hides its private objects, so it answers an invalid handle, not
    /// CKR_USER_NOT_LOGGED_IN: a handle failure on a session that is no
    /// longer logged in is read as the logout it is, so it is retried
    /// (`Unavailable`) rather than taken for an unknown key.
    fn explain(&self, session: &Session, e: Error) -> Error {
        let Error::Pkcs11(
            RvError::KeyHandleInvalid
            | RvError::ObjectHandleInvalid
            | RvError::WrappingKeyHandleInvalid
            | RvError::UnwrappingKeyHandleInvalid,
            function,
        ) = e
        else {
            return e;
        };
        let logged_in = session.get_session_info().is_ok_and(|info| {
            matches!(
                info.session_state(),
                SessionState::RwUser | SessionState::RoUser
            )
        });
        if logged_in {
            e
        } else {
            Error::Pkcs11(RvError::UserNotLoggedIn, function)
        }
    }

    /// Notes what a failure says about the token's state.
    fn note(&self, e: &Error) {
        if rv(e) == Some(RvError::UserNotLoggedIn) {
            // A logout destroys every private session object (PKCS#11 C_Logout).
            self.relogin.store(true, Ordering::SeqCst);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Runs `op` on a pooled session. The outer error is a session that
    /// could not be had; the inner one is the token's answer, for the caller
    /// to classify.
    pub(super) fn with_session<T>(
        &self,
        op: impl FnOnce(&Session) -> cryptoki::error::Result<T>,
    ) -> Result<cryptoki::error::Result<T>, ModuleError> {
        let pooled = self.idle.lock().map_err(poisoned)?.pop();
        let session = match pooled {
            Some(session) => {
                if self.relogin.load(Ordering::SeqCst) {
                    self.login(&session)?;
                }
                session
            }
            None => self.new_session()?,
        };
        let result = op(&session).map_err(|e| self.explain(&session, e));
        match &result {
            Ok(_) => {
                let mut idle = self.idle.lock().map_err(poisoned)?;
                if idle.len() < MAX_IDLE {
                    idle.push(session);
                }
            }
            // A failed call may leave an operation active; this session owns
            // no objects, so closing it (on drop) costs nothing.
            Err(e) => self.note(e),
        }
        Ok(result)
    }

    /// Runs `op` on the keeper session, which creates and owns every object.
    pub(super) fn with_keeper<T>(
        &self,
        op: impl FnOnce(&Session) -> cryptoki::error::Result<T>,
    ) -> Result<cryptoki::error::Result<T>, ModuleError> {
        let mut keeper = self.keeper.lock().map_err(poisoned)?;
        if keeper.is_none() {
            *keeper = Some(self.new_session()?);
        } else if self.relogin.load(Ordering::SeqCst)
            && let Some(session) = keeper.as_ref()
        {
            self.login(session)?;
        }
        let Some(session) = keeper.as_ref() else {
            return Err(unavailable_because("no keeper session"));
        };
        let result = op(session).map_err(|e| self.explain(session, e));
        if let Err(e) = &result {
            self.note(e);
            if matches!(
                rv(e),
                Some(
                    RvError::SessionHandleInvalid
                        | RvError::SessionClosed
                        | RvError::DeviceRemoved
                        | RvError::TokenNotPresent
                )
            ) {
                // The session and its objects are gone; the next call opens another.
                *keeper = None;
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(result)
    }
}

fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, ModuleError> {
    let mut found = Vec::new();
    for slot in ctx.get_slots_with_token().map_err(|e| unavailable(&e))? {
        let info = ctx.get_token_info(slot).map_err(|e| unavailable(&e))?;
        if info.label() == label {
            found.push(slot);
        }
    }
    match found.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(unavailable_because(format!(
            "no token labelled {label:?} (CKR_TOKEN_NOT_PRESENT)"
        ))),
        _ => Err(unavailable_because(format!(
            "{} tokens are labelled {label:?}",
            found.len()
        ))),
    }
}
