// The scenarios. Each asserts real effects: what the store holds, what tollgate answers about
// it, what the browser sent. A scenario throws to fail; the runner times and reports it.
import { readFile } from 'node:fs/promises'
import { DEMO_AND_HLS_SCENARIOS } from './demo-hls-scenarios.mjs'
import { openPage } from './lib/browser.mjs'
import { check, equal, sha256, within } from './lib/check.mjs'
import { recordFetches } from './lib/media.mjs'
import { keyFromObjectUrl } from './lib/store.mjs'

const MiB = 2 ** 20
const PART_SIZE = 5 * MiB
const MULTIPART_ABOVE = 5 * MiB // the pages' shouldUseMultipart threshold in these tests
const NEVER_MULTIPART = Number.MAX_SAFE_INTEGER
const KEY_PREFIX = 'videos/'
const UPLOAD_TIMEOUT_MS = 60_000

/** uploads.max_size_bytes (and the multipart threshold) of the runner's second tollgate. */
export const LIMITED_MAX_SIZE = 5 * MiB
/** The playback clip, under the pages' site: scripts/make-fixture.sh --long makes it. */
export const LONG_CLIP = 'fixtures/long.mp4'
/**
 * Where the playback scenario seeks, as a fraction of the duration: the file's second half with
 * a margin. The exact middle lands just before the middle byte (the keyframe before it, and
 * Chromium asks from a 32 KiB block boundary).
 */
const SEEK_TO = 0.6

// ---------------------------------------------------------------------------------------------
// Assertions and helpers
// ---------------------------------------------------------------------------------------------

/**
 * The Uppy `generation` (4 or 6) page, recording what it sends to `target`'s store. A target
 * is `{tollgate, tokens, store}`: the runner's context itself, or `await ctx.limited()`.
 */
function uppyPage(ctx, generation, target = ctx) {
  return openPage(ctx.browser, { origin: ctx.origin, name: `uppy${generation}`, apiName: 'harness', storeOrigin: target.store.origin })
}

/** Sets Uppy up on the page (tollgate's URL, a token) and adds one generated .mp4 file. */
async function prepare(open, target, { token, size, name, seed, multipartAbove = MULTIPART_ABOVE }) {
  await open.page.evaluate(
    (options) => window.harness.setup(options),
    { tollgateUrl: target.tollgate.url, token, multipartAbove, partSize: PART_SIZE },
  )
  return open.page.evaluate((file) => window.harness.addGeneratedFile(file), { name, type: 'video/mp4', size, seed })
}

/** Waits for Uppy's `complete` (or a cancel); answers the page's state. */
async function settled(open) {
  try {
    await open.page.waitForFunction(() => window.harness.state().settled, null, { timeout: UPLOAD_TIMEOUT_MS })
  } catch (error) {
    throw new Error(`upload did not settle: ${await describe(open)}`, { cause: error })
  }
  return open.page.evaluate(() => window.harness.state())
}

/** The page's view of a failure, for messages: Uppy's errors, the Dashboard, the console. */
async function describe(open) {
  const state = await open.page.evaluate(() => window.harness.state()).catch(() => ({}))
  const dashboard = await open.page.evaluate(() => window.harness.dashboardErrors()).catch(() => ({}))
  const failedResponses = await Promise.all(
    open.traffic.responses
      .filter((r) => r.status >= 400)
      .map(async (r) => `${r.method} ${r.status} ${await storeError(r.response)}`.trim()),
  )
  return JSON.stringify({
    errors: state.errors,
    dashboard: dashboard.details,
    statusBar: dashboard.statusBar,
    storeFailures: failedResponses,
    console: open.consoleErrors.slice(0, 5),
  })
}

/** `Code: Message` of a store's XML error answer, or '' where there is none to read. */
async function storeError(response) {
  const body = await response.text().catch(() => '')
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1]
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1]
  return code ? `${code}: ${message ?? ''}` : ''
}

/** Uppy reported exactly one success and no error; answers the object key it wrote. */
async function onlySuccess(open, state, target) {
  if (state.errors.length > 0 || state.successes.length !== 1) {
    throw new Error(`upload failed: ${await describe(open)}`)
  }
  const [success] = state.successes
  // 6.x and 4.x multipart report the key; a 4.x single upload only its URL (the Location).
  return success.key ?? keyFromObjectUrl(success.uploadURL, target.store.bucket)
}

/**
 * What every successful upload must give: tollgate's completion answers 200 for it, and the
 * bytes behind its playback URL are the file's.
 */
async function verifyStored(target, key, { size, sha256: expected }) {
  check(key.startsWith(KEY_PREFIX), `object key ${key} is not under ${KEY_PREFIX}`)
  const id = key.slice(KEY_PREFIX.length)
  const completion = await target.tollgate.complete(target.tokens.uploader, id)
  equal(completion.status, 200, `POST /uploads/${id}/complete (${completion.text})`)
  equal(completion.json?.size, size, 'completed size')
  const playback = await target.tollgate.videoUrl(target.tokens.uploader, id)
  equal(playback.status, 200, `GET /videos/${id}/url (${playback.text})`)
  const res = await fetch(playback.json.url, { signal: AbortSignal.timeout(30_000) })
  equal(res.status, 200, 'GET of the presigned URL')
  equal(sha256(Buffer.from(await res.arrayBuffer())), expected, 'SHA-256 of the stored bytes')
  return id
}

/** Keys and multipart uploads under the prefix: compared before and after a refused upload. */
async function storeSnapshot(target) {
  const [objects, uploads] = await Promise.all([
    target.store.listObjects(KEY_PREFIX),
    target.store.listMultipartUploads(KEY_PREFIX),
  ])
  // null where the store cannot list multipart uploads (the embedded store): objects only.
  return { objects: objects.sort(), uploads: uploads?.map((u) => u.key).sort() ?? null }
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/**
 * One file through Uppy `generation` (4 or 6): a single request or `parts` multipart parts; on
 * the limited tollgate with `limited`.
 */
function uploadScenario(generation, { size, parts, limited = false }) {
  return async (ctx) => {
    const target = limited ? await ctx.limited() : ctx
    const open = await uppyPage(ctx, generation, target)
    try {
      const file = await prepare(open, target, {
        token: target.tokens.uploader,
        size,
        name: `clip-${generation}x-${size}.mp4`,
        seed: size,
        multipartAbove: parts ? MULTIPART_ABOVE : NEVER_MULTIPART,
      })
      await open.page.evaluate(() => window.harness.start())
      const key = await onlySuccess(open, await settled(open), target)
      if (parts) {
        equal(open.traffic.partPuts().sort((a, b) => a - b), Array.from({ length: parts }, (_, i) => i + 1), 'UploadPart requests (part numbers)')
      } else {
        equal(open.traffic.partPuts().length, 0, 'UploadPart requests')
        // A form upload under tollgate's POST policy, not a presigned PUT.
        equal(open.traffic.singleUploads().map((r) => r.method), ['POST'], 'single upload requests')
      }
      const id = await verifyStored(target, key, { size, sha256: file.sha256 })
      return `id ${id.slice(0, 13)}…`
    } finally {
      await open.close()
    }
  }
}

/** 6.x: pause once part 1 is stored, resume; the client lists the parts and sends only the rest. */
async function pauseResume(ctx) {
  const size = 12 * MiB
  const open = await uppyPage(ctx, 6)
  try {
    const file = await prepare(open, ctx, { token: ctx.tokens.uploader, size, name: 'pause-resume.mp4', seed: 7 })
    await open.page.evaluate(() => window.harness.pauseAfterPart(1))
    await open.page.evaluate(() => window.harness.start())
    try {
      await open.page.waitForFunction(() => window.harness.state().paused || window.harness.state().settled, null, { timeout: UPLOAD_TIMEOUT_MS })
    } catch (error) {
      throw new Error(`never paused: ${await describe(open)}`, { cause: error })
    }
    const paused = await open.page.evaluate(() => window.harness.state())
    if (!paused.paused) throw new Error(`settled before pausing: ${await describe(open)}`)
    equal(open.traffic.partPuts(), [1], 'UploadPart requests while paused')
    await open.page.evaluate((fileId) => window.harness.resume(fileId), file.fileId)
    const key = await onlySuccess(open, await settled(open), ctx)
    equal(open.traffic.listParts().length, 1, 'ListParts requests on resume')
    equal(open.traffic.partPuts(), [1, 2, 3], 'UploadPart requests (part 1 not sent again)')
    await verifyStored(ctx, key, { size, sha256: file.sha256 })
    return 'parts sent: 1 | pause | ListParts, 2, 3'
  } finally {
    await open.close()
  }
}

/** 6.x: cancel once part 1 is stored; the multipart upload is aborted and nothing is left. */
async function cancelMidUpload(ctx) {
  const size = 12 * MiB
  const open = await uppyPage(ctx, 6)
  try {
    await prepare(open, ctx, { token: ctx.tokens.uploader, size, name: 'cancelled.mp4', seed: 11 })
    await open.page.evaluate(() => window.harness.cancelAfterPart(1))
    const aborted = open.page.waitForResponse(
      (res) => open.traffic.isStore(res.url()) && res.request().method() === 'DELETE',
      { timeout: UPLOAD_TIMEOUT_MS },
    )
    aborted.catch(() => {}) // awaited below only if the page cancelled
    await open.page.evaluate(() => window.harness.start())
    const state = await settled(open)
    if (!state.cancelled) throw new Error(`the upload ended before part 1 was stored: ${await describe(open)}`)
    let abort
    try {
      abort = await aborted
    } catch (error) {
      throw new Error(`no AbortMultipartUpload reached the store: ${await describe(open)}`, { cause: error })
    }
    check(abort.status() === 204 || abort.status() === 200, `AbortMultipartUpload answered ${abort.status()}`)
    equal(open.traffic.partPuts(), [1], 'UploadPart requests before the cancel')
    const key = keyFromObjectUrl(abort.url(), ctx.store.bucket)
    const uploadId = new URL(abort.url()).searchParams.get('uploadId')
    const parts = await ctx.store.listParts(key, uploadId)
    check(
      parts.status === 404 || (parts.status === 200 && parts.parts.length === 0),
      `ListParts of the aborted upload: ${parts.status} with parts ${JSON.stringify(parts.parts)} (expected 404 NoSuchUpload or no part)`,
    )
    const left = await ctx.store.listMultipartUploads(key)
    check(left === null || left.length === 0, `multipart uploads left under ${key}: ${JSON.stringify(left)}`)
    equal(await ctx.store.listObjects(key), [], `objects under ${key}`)
    return `aborted ${key.slice(0, 20)}…`
  } finally {
    await open.close()
  }
}

/** A token tollgate refuses: the upload fails, the Dashboard says so, nothing reaches the store. */
function badTokenScenario(generation, tokenName) {
  return async (ctx) => {
    const before = await storeSnapshot(ctx)
    const open = await uppyPage(ctx, generation)
    try {
      await prepare(open, ctx, { token: ctx.tokens[tokenName], size: 1_000_000, name: 'refused.mp4', seed: 3 })
      await open.page.evaluate(() => window.harness.start())
      const state = await settled(open)
      equal(state.successes.length, 0, 'successful uploads')
      check(state.errors.length > 0, 'Uppy reported no upload-error')
      // The Dashboard renders after the event: wait for the failed item to show.
      await open.page.waitForFunction(() => window.harness.dashboardErrors().failedItems > 0, null, { timeout: 10_000 })
      const dashboard = await open.page.evaluate(() => window.harness.dashboardErrors())
      check(/fail/i.test(dashboard.statusBar), `status bar shows no failure: ${dashboard.statusBar}`)
      equal(open.traffic.requests.length, 0, 'requests the page sent to the store')
      equal(await storeSnapshot(ctx), before, 'store contents')
      return `error shown: "${dashboard.details[0] || state.errors[0].message}"`
    } finally {
      await open.close()
    }
  }
}

/**
 * A single upload one byte over `uploads.max_size_bytes`, on the limited tollgate: tollgate
 * cannot know the size when it signs (Uppy sends none), so its POST policy's
 * `content-length-range` is what stops it. The store refuses the form, the Dashboard shows the
 * failure, nothing is stored.
 */
function oversizeScenario(generation) {
  return async (ctx) => {
    const target = await ctx.limited()
    const size = LIMITED_MAX_SIZE + 1
    const before = await storeSnapshot(target)
    const open = await uppyPage(ctx, generation, target)
    try {
      await prepare(open, target, { token: target.tokens.uploader, size, name: 'too-big.mp4', seed: 13, multipartAbove: NEVER_MULTIPART })
      await open.page.evaluate(() => window.harness.start())
      const state = await settled(open)
      equal(state.successes.length, 0, 'successful uploads')
      check(state.errors.length > 0, 'Uppy reported no upload-error')
      await open.page.waitForFunction(() => window.harness.dashboardErrors().failedItems > 0, null, { timeout: 10_000 })
      const dashboard = await open.page.evaluate(() => window.harness.dashboardErrors())
      check(/fail/i.test(dashboard.statusBar), `status bar shows no failure: ${dashboard.statusBar}`)

      // The one request was the form upload, and the store (not tollgate) refused it.
      equal(open.traffic.partPuts().length, 0, 'UploadPart requests')
      equal(open.traffic.singleUploads().map((r) => r.method), ['POST'], 'single upload requests')
      const answers = open.traffic.responses.filter((r) => r.method === 'POST')
      equal(answers.map((r) => r.status), [400], 'store answers to the form upload')
      const error = await answers[0].response.text()
      const code = /<Code>([^<]*)<\/Code>/.exec(error)?.[1]
      const message = /<Message>([^<]*)<\/Message>/.exec(error)?.[1] ?? ''
      // S3 and s3s answer EntityTooLarge; Garage 2.5 InvalidRequest "File size does not match policy".
      check(
        code === 'EntityTooLarge' || (code === 'InvalidRequest' && /size/i.test(message)),
        `the store refused the form for another reason than its size: ${error}`,
      )
      equal(await storeSnapshot(target), before, 'store contents')
      return `store: 400 ${code}; shown: "${dashboard.details[0] || state.errors[0].message}"`
    } finally {
      await open.close()
    }
  }
}

/**
 * The playback clip (a few MB, made at test time) uploaded by the page itself with the grant
 * of `POST /uploads`, played in <video>, then seeked to SEEK_TO of its duration. Chromium reads
 * a few MB ahead of the playhead (2 MB + 1 MB at this clip's bitrate), far short of the seek
 * target, so the seek must be served by a new ranged request: the store answers 206 with the
 * file's bytes from that offset.
 */
async function playback(ctx) {
  const clip = await readFile(ctx.longClip.path)
  const open = await openPage(ctx.browser, { origin: ctx.origin, name: 'player', apiName: 'player', storeOrigin: ctx.store.origin })
  try {
    // Chromium adds `Cache-Control: max-age=0` to the PUT (it carries `If-None-Match: *`) and
    // the store keeps it with the object: the upload must still complete and play.
    const grant = await ctx.tollgate.postUpload(ctx.tokens.uploader, { content_type: 'video/mp4', size: clip.length, filename: 'long.mp4' })
    equal(grant.status, 201, `POST /uploads (${grant.text})`)
    const put = await open.page.evaluate(({ file, url, headers }) => window.player.upload(file, url, headers), {
      file: ctx.longClip.url,
      ...grant.json,
    })
    equal(put.status, 200, `the page's PUT of the upload URL (${put.body})`)
    const cacheControl = (await ctx.store.headObject(grant.json.key)).headers.get('cache-control')
    check(
      ['max-age=0', 'no-cache'].includes(cacheControl),
      `the stored Cache-Control is ${cacheControl}, not what Chromium adds to a request with If-None-Match: this scenario no longer covers that case`,
    )
    const id = await verifyStored(ctx, grant.json.key, { size: clip.length, sha256: sha256(clip) })
    const url = (await ctx.tollgate.videoUrl(ctx.tokens.uploader, id)).json?.url
    check(url, 'GET /videos/{id}/url gave no url')

    const support = await open.page.evaluate(() => window.player.canPlay('video/mp4; codecs="avc1.42E01E, mp4a.40.2"'))
    check(support === 'probably', `this Chromium cannot play H.264 + AAC in MP4 (canPlayType: "${support}")`)
    const fetches = await recordFetches(open.page, url)
    const played = await within(30_000, 'playing past 1 s', open.page.evaluate((u) => window.player.play(u), url))
    check(played.duration > 60, `duration ${played.duration}`)
    const before = fetches.requests().length
    const seek = await within(30_000, 'seeking', open.page.evaluate((f) => window.player.seekTo(f), SEEK_TO))
    const media = fetches.requests()
    await fetches.stop()
    const seen = JSON.stringify(media.map(({ range, status, received, receivedBefore }) => ({ range, status, received, receivedBefore })))

    // Playing: from byte 0, a request still open or cancelled by the seek, never complete.
    check(before > 0 && media[0].start === 0, `the <video>'s first request was not from byte 0: ${seen}`)
    check(media[0].outcome !== 'finished', `the <video> fetched the whole clip before the seek: ${seen}`)
    // Seeking: the first request sent after it asks from past every byte received until then,
    // inside the file's second half, and the store answers exactly that range.
    const ranged = media.slice(before).find((r) => r.start > 0)
    check(ranged, `no ranged request after the seek: ${seen}`)
    const received = Math.max(...ranged.receivedBefore.map(([, end]) => end))
    check(ranged.start >= received, `the seek's range starts at ${ranged.start}, inside the ${received} bytes received already: ${seen}`)
    check(ranged.start >= clip.length / 2 && ranged.start < clip.length, `the seek's range ${ranged.range} is not in the second half of ${clip.length} bytes`)
    equal(ranged.status, 206, `answer to ${ranged.range}`)
    const end = Math.min(ranged.end ?? clip.length - 1, clip.length - 1)
    equal(ranged.contentRange, `bytes ${ranged.start}-${end}/${clip.length}`, `Content-Range for ${ranged.range}`)
    check(ranged.body.length > 0, `no body bytes of ${ranged.range} could be read (${ranged.streamError ?? 'none arrived'})`)
    check(
      ranged.body.equals(clip.subarray(ranged.start, ranged.start + ranged.body.length)),
      `the ${ranged.body.length} bytes answered to ${ranged.range} are not the file's`,
    )

    // A ranged fetch reads the exposed Content-Range: the CORS rule's expose list at work.
    const part = await open.page.evaluate((u) => window.player.fetchRange(u, 1000, 1999), url)
    equal(part.status, 206, 'ranged fetch status')
    equal(part.contentRange, `bytes 1000-1999/${clip.length}`, 'exposed Content-Range')
    equal(sha256(Buffer.from(part.bytes)), sha256(clip.subarray(1000, 2000)), 'ranged bytes')
    const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`
    return (
      `played to ${played.currentTime.toFixed(1)} s, seeked to ${seek.currentTime.toFixed(1)} s of ${played.duration.toFixed(0)}; ` +
      `${mb(received)} received, then 206 ${ranged.contentRange} (${mb(clip.length)}), ${ranged.body.length} bytes checked; ` +
      `stored Cache-Control: ${cacheControl}`
    )
  } finally {
    await open.close()
  }
}

export const SCENARIOS = [
  ['uppy 4.x: 1 MB single upload', uploadScenario(4, { size: 1_000_000 })],
  ['uppy 4.x: 12 MiB multipart, 5 MiB parts', uploadScenario(4, { size: 12 * MiB, parts: 3 })],
  ['uppy 4.x: garbage token refused', badTokenScenario(4, 'garbage')],
  ['uppy 4.x: 5 MiB single upload, the maximum', uploadScenario(4, { size: LIMITED_MAX_SIZE, limited: true })],
  ['uppy 4.x: 5 MiB + 1 B single upload refused', oversizeScenario(4)],
  ['uppy 6.x: 1 MB single upload', uploadScenario(6, { size: 1_000_000 })],
  ['uppy 6.x: 12 MiB multipart, 5 MiB parts', uploadScenario(6, { size: 12 * MiB, parts: 3 })],
  ['uppy 6.x: pause after part 1, resume', pauseResume],
  ['uppy 6.x: cancel mid-upload aborts it', cancelMidUpload],
  ['uppy 6.x: token of another secret refused', badTokenScenario(6, 'wrongSecret')],
  ['uppy 6.x: 5 MiB single upload, the maximum', uploadScenario(6, { size: LIMITED_MAX_SIZE, limited: true })],
  ['uppy 6.x: 5 MiB + 1 B single upload refused', oversizeScenario(6)],
  ['playback: page PUT, <video> plays, seek by 206', playback],
  ...DEMO_AND_HLS_SCENARIOS,
]
