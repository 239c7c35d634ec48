// Uppy 4.x against tollgate: @uppy/aws-s3 4.x speaks Companion's protocol to `endpoint`, and
// tollgate serves those routes (/s3/params, /s3/multipart…) behind the same JWT.
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import AwsS3 from '@uppy/aws-s3'
import '@uppy/core/dist/style.min.css'
import '@uppy/dashboard/dist/style.min.css'

const MiB = 2 ** 20

/**
 * `token` is the user's tollgate JWT (role uploader); 4.x sends `headers` with every request
 * to `endpoint`. Files above `multipartAbove` bytes go up in `partSize` parts (S3's minimum is
 * 5 MiB); smaller ones in one form upload, which the store refuses above tollgate's
 * `uploads.max_size_bytes`.
 */
export function createUppy({ tollgateUrl, token, target, multipartAbove = 100 * MiB, partSize = 5 * MiB }) {
  return new Uppy()
    .use(Dashboard, { inline: true, target, proudlyDisplayPoweredByUppy: false })
    .use(AwsS3, {
      endpoint: tollgateUrl,
      headers: { Authorization: `Bearer ${token}` },
      shouldUseMultipart: (file) => file.size > multipartAbove,
      getChunkSize: () => partSize,
    })
}
