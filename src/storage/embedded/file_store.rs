//! s3s-fs with S3's answers where Uppy needs them. s3s 0.14 answers PostObject 204 with neither
//! `ETag` nor `Location`, which AWS and Garage send: Uppy 4.x never finishes an upload whose
//! answer has no `ETag`. s3s-fs's CompleteMultipartUpload result has no `<Location>`, and
//! Uppy 6.x fails without one. A key that is a folder in s3s-fs's layout (`videos/film` beside
//! `videos/film/master.m3u8`) is no object, as on S3. Every other operation is s3s-fs's own.

use axum::http::header::{ETAG, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput, CreateBucketInput,
    CreateBucketOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteBucketInput,
    DeleteBucketOutput, DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput,
    DeleteObjectsOutput, GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput,
    GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput,
    ListBucketsInput, ListBucketsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, PostObjectInput, PostObjectOutput,
    PutObjectInput, PutObjectOutput, UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput,
    UploadPartOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

/// What a key keeps unescaped in a URL path: S3's unreserved characters and `/`.
const KEY_IN_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// s3s-fs's file system store, answering form uploads as S3 does.
pub struct FileStore {
    pub fs: s3s_fs::FileSystem,
    /// The store's folder: s3s-fs keeps `bucket/key` as a file under it.
    pub root: std::path::PathBuf,
}

impl FileStore {
    /// S3 keys `a/b` and `a/b/c` may both exist; in s3s-fs's folders `a/b` is then a folder,
    /// which it fails to read (500) instead of answering that there is no such object.
    fn is_folder(&self, bucket: &str, key: &str) -> bool {
        self.root.join(bucket).join(key).is_dir()
    }

    /// A well-formed upload id (s3s-fs's are UUIDs; it refuses others itself with 400) that
    /// s3s-fs has no record of: it keeps one file per upload in its root.
    fn is_unknown_upload(&self, upload_id: &str) -> bool {
        uuid::Uuid::parse_str(upload_id)
            .is_ok_and(|id| !self.root.join(format!(".upload-{id}.json")).exists())
    }
}

/// `impl S3 for FileStore`: the listed operations handed to s3s-fs unchanged, then `$own`.
/// (One macro writes the whole impl: `async_trait` must see the methods it rewrites.)
macro_rules! file_store_impl {
    ([$($operation:ident: $input:ident => $output:ident),* $(,)?] $($own:tt)*) => {
        #[async_trait::async_trait]
        impl S3 for FileStore {
            $(
                async fn $operation(
                    &self,
                    req: S3Request<$input>,
                ) -> S3Result<S3Response<$output>> {
                    self.fs.$operation(req).await
                }
            )*
            $($own)*
        }
    };
}

/// The object's URL as the client reached the store (S3's `Location`).
fn location(headers: &HeaderMap, bucket: &str, key: &str) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    let key = utf8_percent_encode(key, KEY_IN_PATH);
    Some(format!("http://{host}/{bucket}/{key}"))
}

file_store_impl! {
    [
        copy_object: CopyObjectInput => CopyObjectOutput,
        create_bucket: CreateBucketInput => CreateBucketOutput,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
        delete_bucket: DeleteBucketInput => DeleteBucketOutput,
        delete_object: DeleteObjectInput => DeleteObjectOutput,
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        list_buckets: ListBucketsInput => ListBucketsOutput,
        list_objects: ListObjectsInput => ListObjectsOutput,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
        put_object: PutObjectInput => PutObjectOutput,
        upload_part: UploadPartInput => UploadPartOutput,
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
    ]

    /// s3s-fs refuses an upload id it does not know with AccessDenied; S3 answers
    /// NoSuchUpload (404), and tollgate reads a 403 as a refusal of its own key (503
    /// `storage_forbidden`), so an abort of an unknown upload was answered 503.
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        if self.is_unknown_upload(&req.input.upload_id) {
            return Err(s3_error!(NoSuchUpload));
        }
        self.fs.abort_multipart_upload(req).await
    }

    /// As above: s3s-fs lists an upload it has no record of (an aborted one) as empty, where
    /// S3 answers NoSuchUpload.
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        if self.is_unknown_upload(&req.input.upload_id) {
            return Err(s3_error!(NoSuchUpload));
        }
        self.fs.list_parts(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        if self.is_folder(&req.input.bucket, &req.input.key) {
            return Err(s3_error!(NoSuchKey));
        }
        self.fs.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        if self.is_folder(&req.input.bucket, &req.input.key) {
            return Err(s3_error!(NoSuchKey));
        }
        self.fs.head_object(req).await
    }

    async fn post_object(
        &self,
        req: S3Request<PostObjectInput>,
    ) -> S3Result<S3Response<PostObjectOutput>> {
        let location = location(&req.headers, &req.input.bucket, &req.input.key);
        // s3s's default PostObject is s3s-fs's PutObject.
        let mut answer = self.fs.post_object(req).await?;
        if let Some(etag) = answer.output.e_tag.as_ref().and_then(|e| e.to_http_header().ok()) {
            answer.headers.insert(ETAG, etag);
        }
        if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            answer.headers.insert(LOCATION, location);
        }
        Ok(answer)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let location = location(&req.headers, &req.input.bucket, &req.input.key);
        let mut answer = self.fs.complete_multipart_upload(req).await?;
        let Some(location) = location else {
            return Ok(answer);
        };
        // s3s-fs answers through a future (S3's keep-alive while it assembles the parts).
        match answer.output.future.take() {
            Some(pending) => {
                answer.output.future = Some(Box::pin(async move {
                    let mut output = pending.await?;
                    output.location.get_or_insert(location);
                    Ok(output)
                }));
            }
            None => {
                answer.output.location.get_or_insert(location);
            }
        }
        Ok(answer)
    }
}
