//! Prometheus text metrics: requests by route and status, set-PIN latency,
//! RSA operations and store errors. Counters only ever count; nothing in a
//! label comes from a request but the matched route template.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pinset_envelope::EncryptedPinBlock;
use pinset_module::verify::{VerificationMethod, VerificationValue};
use pinset_module::{
    GenerateNaturalPin, GenerateVerificationValue, KeyAlgorithm, KeyBlockExport, KeyPurpose,
    KeyRef, ModuleError, PinSource, PinVerified, RsaPadding, RsaPublicKey, SecurityModule,
    TranslatePin, VerifyPin, Wrapping,
};

/// Upper bounds of the set-PIN latency histogram, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    set_pin: Mutex<Histogram>,
    rsa_private: AtomicU64,
    rsa_public: AtomicU64,
    store_errors: AtomicU64,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route.to_owned(), status)).or_default() += 1;
        }
    }

    /// Records one set PIN's latency.
    pub fn set_pin(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Ok(mut h) = self.set_pin.lock() {
            for (count, bound) in h.counts.iter_mut().zip(BUCKETS) {
                if secs <= bound {
                    *count += 1;
                }
            }
            h.count += 1;
            h.sum += secs;
        }
    }

    /// Counts one store failure.
    pub fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP pinset_http_requests_total HTTP requests answered, by route template and status.\n");
        out.push_str("# TYPE pinset_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "pinset_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP pinset_set_pin_duration_seconds Time to answer a set-PIN request.\n");
        out.push_str("# TYPE pinset_set_pin_duration_seconds histogram\n");
        if let Ok(h) = self.set_pin.lock() {
            for (count, bound) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "pinset_set_pin_duration_seconds_bucket{{le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "pinset_set_pin_duration_seconds_bucket{{le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "pinset_set_pin_duration_seconds_sum {}", h.sum);
            let _ = writeln!(out, "pinset_set_pin_duration_seconds_count {}", h.count);
        }
        for (name, help, value) in [
            (
                "pinset_rsa_private_operations_total",
                "RSA private-key operations asked of the security module (cryptograms decrypted).",
                &self.rsa_private,
            ),
            (
                "pinset_rsa_public_operations_total",
                "RSA public-key operations asked of the security module (tzpks wrapped).",
                &self.rsa_public,
            ),
            (
                "pinset_store_errors_total",
                "Requests answered 500 because a shared store failed.",
                &self.store_errors,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

/// A security module that counts the RSA operations asked of it.
pub struct Counted<M> {
    inner: M,
    metrics: std::sync::Arc<Metrics>,
}

impl<M> Counted<M> {
    /// Counts `inner`'s RSA operations into `metrics`.
    pub fn new(inner: M, metrics: std::sync::Arc<Metrics>) -> Self {
        Counted { inner, metrics }
    }
}

impl<M: SecurityModule> SecurityModule for Counted<M> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn import_symmetric(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        self.inner
            .import_symmetric(algorithm, purpose, material)
            .await
    }

    async fn import_rsa_private(
        &self,
        purpose: KeyPurpose,
        der: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        self.inner.import_rsa_private(purpose, der).await
    }

    async fn import_wrapped(
        &self,
        wrapping: Wrapping<'_>,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        self.inner
            .import_wrapped(wrapping, algorithm, purpose, wrapped)
            .await
    }

    async fn export_wrapped(&self, key: &KeyRef, kek: &KeyRef) -> Result<Vec<u8>, ModuleError> {
        self.inner.export_wrapped(key, kek).await
    }

    async fn generate_rsa(
        &self,
        bits: usize,
        purpose: KeyPurpose,
    ) -> Result<(KeyRef, RsaPublicKey), ModuleError> {
        self.inner.generate_rsa(bits, purpose).await
    }

    async fn rsa_public_key(&self, key: &KeyRef) -> Result<RsaPublicKey, ModuleError> {
        self.inner.rsa_public_key(key).await
    }

    async fn generate_tzpk(
        &self,
        device_key: &RsaPublicKey,
        padding: RsaPadding,
    ) -> Result<(KeyRef, Vec<u8>), ModuleError> {
        self.metrics.rsa_public.fetch_add(1, Ordering::Relaxed);
        self.inner.generate_tzpk(device_key, padding).await
    }

    async fn translate(
        &self,
        request: &TranslatePin<'_>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        if matches!(request.source, PinSource::Rsa { .. }) {
            self.metrics.rsa_private.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.translate(request).await
    }

    async fn bind_verification_method(
        &self,
        pvk: &KeyRef,
        method: &VerificationMethod,
    ) -> Result<(), ModuleError> {
        self.inner.bind_verification_method(pvk, method).await
    }

    async fn generate_verification_value(
        &self,
        request: &GenerateVerificationValue<'_>,
    ) -> Result<VerificationValue, ModuleError> {
        self.inner.generate_verification_value(request).await
    }

    async fn verify_pin(&self, request: &VerifyPin<'_>) -> Result<PinVerified, ModuleError> {
        self.inner.verify_pin(request).await
    }

    async fn generate_natural_pin(
        &self,
        request: &GenerateNaturalPin<'_>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        self.inner.generate_natural_pin(request).await
    }

    async fn import_key_block(
        &self,
        kbpk: &KeyRef,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        block: &str,
    ) -> Result<KeyRef, ModuleError> {
        self.inner
            .import_key_block(kbpk, algorithm, purpose, block)
            .await
    }

    async fn export_key_block(
        &self,
        key: &KeyRef,
        kbpk: &KeyRef,
        export: &KeyBlockExport,
    ) -> Result<String, ModuleError> {
        self.inner.export_key_block(key, kbpk, export).await
    }

    async fn destroy(&self, key: &KeyRef) -> Result<(), ModuleError> {
        self.inner.destroy(key).await
    }
}
