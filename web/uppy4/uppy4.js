// Uppy 4.x against tollgate: @uppy/aws-s3 4.x speaks Companion's protocol to `endpoint`, and
// tollgate serves those routes (/s3/params, /s3/multipart…) behind the same JWT.
// It lives in web/uppy4/ so that its imports resolve to this folder's @uppy/core 4.x.
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import AwsS3 from '@uppy/aws-s3'
import '@uppy/core/dist/style.min.css'
import '@uppy/dashboard/dist/style.min.css'

import { installHarness } from '../pages/harness.js'

const MiB = 2 ** 20

/**
 * The wiring an app writes. `token` is the user's tollgate JWT (an uploader); 4.x sends
 * `headers` with every request to `endpoint`. Files above `multipartAbove` bytes go up in
 * `partSize` parts (S3's minimum is 5 MiB).
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

installHarness(createUppy)
