//! Every request tollgate makes to the store, counted and timed for `/metrics`: one SDK
//! interceptor on both S3 clients, so that no call site can be forgotten.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::metrics::Metrics;

#[derive(Debug, Clone)]
struct StartedAt(Instant);

impl Storable for StartedAt {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
pub struct StoreMetrics;

/// The S3 operations tollgate calls, as metric labels.
fn operation(name: &str) -> &'static str {
    match name {
        "HeadObject" => "head_object",
        "GetObject" => "get_object",
        "PutObject" => "put_object",
        "HeadBucket" => "head_bucket",
        "CreateMultipartUpload" => "create_multipart_upload",
        "ListParts" => "list_parts",
        "CompleteMultipartUpload" => "complete_multipart_upload",
        "AbortMultipartUpload" => "abort_multipart_upload",
        _ => "other",
    }
}

impl Intercept for StoreMetrics {
    fn name(&self) -> &'static str {
        "StoreMetrics"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(StartedAt(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(StartedAt(started)) = cfg.load::<StartedAt>().cloned() else {
            return Ok(());
        };
        let operation = cfg
            .load::<Metadata>()
            .map_or("other", |metadata| operation(metadata.name()));
        let outcome = match context.response().map(|r| r.status().as_u16()) {
            Some(200..=299) => "ok",
            Some(404) => "not_found",
            Some(403) => "forbidden",
            Some(412) => "precondition_failed",
            Some(_) => "error",
            // No answer at all: a timeout, a refused connection.
            None => "unreachable",
        };
        Metrics::global().store_call(operation, outcome, started);
        Ok(())
    }
}
