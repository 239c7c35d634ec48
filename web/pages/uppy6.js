// Uppy 6.x against tollgate: @uppy/aws-s3's `signRequest` asks tollgate's `POST /s3/sign` for
// one presigned S3 request at a time; the browser then talks to the bucket itself.
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import AwsS3 from '@uppy/aws-s3'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'

const MiB = 2 ** 20

/**
 * `getToken()` returns the user's tollgate JWT (role uploader). Files above `multipartAbove`
 * bytes go up in `partSize` parts (S3's minimum is 5 MiB); smaller ones in one form upload,
 * which the store refuses above tollgate's `uploads.max_size_bytes`.
 */
export function createUppy({ tollgateUrl, getToken, target, multipartAbove = 100 * MiB, partSize = 5 * MiB }) {
  return new Uppy()
    .use(Dashboard, { inline: true, target, proudlyDisplayPoweredByUppy: false })
    .use(AwsS3, {
      shouldUseMultipart: (file) => file.size > multipartAbove,
      getChunkSize: () => partSize,
      async signRequest(req) {
        const res = await fetch(`${tollgateUrl}/s3/sign`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${await getToken()}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(req),
        })
        if (!res.ok) throw new Error((await res.json()).message)
        return res.json() // {url, key?, headers?, fields?}
      },
    })
}
