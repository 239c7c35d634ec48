//! Form uploads to s3s 0.14 cut into small frames. s3s's form parser holds back a chunk's tail
//! that may begin the closing boundary (a lone `\r` is enough) and refuses the upload ("failed
//! to read file stream") when that tail and the next chunk exceed 64 KiB together. Where TCP
//! splits a video decides it, so about one browser upload in fifty failed. With frames of at
//! most 32 KiB the two never reach 64 KiB.

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};

/// The largest frame handed to s3s: with the held-back tail (shorter than the boundary line),
/// well under its 64 KiB limit.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

pin_project_lite::pin_project! {
    /// `inner`, with data frames longer than `max` cut into pieces of at most `max` bytes.
    pub struct SmallFrames<B> {
        #[pin]
        inner: B,
        max: usize,
        rest: Bytes,
    }
}

impl<B> SmallFrames<B> {
    pub fn new(inner: B, max: usize) -> Self {
        Self {
            inner,
            max: max.max(1),
            rest: Bytes::new(),
        }
    }
}

impl<B> Body for SmallFrames<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if this.rest.is_empty() {
            match this.inner.poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => *this.rest = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return other,
            }
        }
        let cut = this.rest.len().min(*this.max);
        Poll::Ready(Some(Ok(Frame::data(this.rest.split_to(cut)))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        hint.set_lower(hint.lower().saturating_add(rest));
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn long_frames_come_out_cut_and_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut body = SmallFrames::new(Full::new(Bytes::from(data.clone())), MAX_FRAME_BYTES);
        let mut sizes = Vec::new();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let chunk = frame.unwrap().into_data().unwrap();
            sizes.push(chunk.len());
            out.extend_from_slice(&chunk);
        }
        assert_eq!(out, data);
        assert_eq!(sizes, [32_768, 32_768, 32_768, 1_696]);
    }
}
