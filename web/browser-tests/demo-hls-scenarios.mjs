// The scenarios of tollgate's own /demo page and of HLS: the page uploads and plays a file, and
// plays an HLS video by id; hls.js (the light build the page ships) plays a master playlist that
// tollgate rewrote, from a page of another origin, and a free caller's master lacks what the
// free tier may not have. The HLS video is the committed fixture (web/fixtures/hls/: 8 s, 2 s
// segments; 360p and 720p fMP4, 180p MPEG-TS), stored with `tollgate put-hls`.
import { randomUUID } from 'node:crypto'
import { copyFile, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

import { openLogged } from './lib/browser.mjs'
import { check, equal, sha256, within } from './lib/check.mjs'
import { keyFromObjectUrl } from './lib/store.mjs'

const KEY_PREFIX = 'videos/'
const CLIP = 'web/fixtures/clip.mp4'
const HLS_FIXTURE = 'web/fixtures/hls'
/** The fixture's variants, in the master's order, and its length. */
const FIXTURE_HEIGHTS = [360, 720, 180]
const FIXTURE_SECONDS = 8
/**
 * Where the hls.js scenario seeks: inside the last segment (6.08 s to the end: ffmpeg's fMP4
 * segments start 1/12 s late), which hls.js, keeping 1 s ahead, has not loaded by then.
 */
const HLS_SEEK_TO = 7
/** hls.max_height.free of the runner's capped tollgate. */
export const CAPPED_FREE_HEIGHT = 360
/** The id the README tells a developer to try on /demo. */
const DEMO_HLS_ID = 'hls-demo'
const SCREENSHOT = 'target/browser/demo.png'
const COMMITTED_SCREENSHOT = 'docs/demo.png'
const UPLOAD_TIMEOUT_MS = 60_000
const PLAY_TIMEOUT_MS = 30_000

const MEDIA = /\.(m4s|ts|mp4)$/i
const PLAYLIST = /\.m3u8$/i

/** A video id no other scenario or run uses (Garage's bucket is shared by all tollgates). */
const freshId = (name) => `${name}-${randomUUID().slice(0, 8)}`

/** A URL without its query: what failure messages show (no signature, no grant). */
const bare = (url) => {
  const u = new URL(url)
  return `${u.origin}${u.pathname}`
}

/** `GET /videos/{id}/url` for an HLS video: answers its master's URL (tollgate's, with a grant). */
async function hlsEntry(target, token, id) {
  const entry = await target.tollgate.videoUrl(token, id)
  equal(entry.status, 200, `GET /videos/${id}/url (${entry.text})`)
  equal(entry.json.format, 'hls', `format of video ${id}`)
  const url = new URL(entry.json.url)
  equal(`${url.origin}${url.pathname}`, `${target.tollgate.url}/videos/${id}/hls/master.m3u8`, 'the HLS entry point')
  check(url.searchParams.get('grant'), `the entry point carries no grant: ${bare(entry.json.url)}`)
  return entry.json.url
}

/**
 * Checks where the HLS requests of a page went, from its request log: every playlist to
 * tollgate with `grant=` (200), every media request (init, .m4s, .ts) to the store, presigned
 * (`X-Amz-Signature`), answered 2xx (or aborted by hls.js itself) with the fixture's bytes, and
 * nothing else anywhere but `pageOrigin`. Answers the playlist and media requests.
 */
async function checkHlsTraffic(open, target, { id, pageOrigin, fixtureDir }) {
  const settled = await open.log.settled()
  const hlsPath = `/videos/${id}/hls/`
  const playlists = []
  const media = []
  for (const entry of open.log.entries) {
    if (!/^https?:/.test(entry.url)) continue // data: and blob: URLs are no requests out
    const url = new URL(entry.url)
    const isMedia = MEDIA.test(url.pathname)
    const isPlaylist = PLAYLIST.test(url.pathname)
    if (url.origin === target.tollgate.url && (isPlaylist || isMedia || url.pathname.startsWith(hlsPath))) {
      check(!isMedia, `a media request went to tollgate: ${bare(entry.url)}`)
      check(isPlaylist && url.pathname.startsWith(hlsPath), `tollgate was asked for what is no playlist of video ${id}: ${bare(entry.url)}`)
      check(url.searchParams.get('grant'), `a playlist request without grant=: ${bare(entry.url)}`)
      playlists.push(entry)
    } else if (url.origin === target.store.origin) {
      check(isMedia, `a request to the store that is no segment: ${bare(entry.url)}`)
      check(url.searchParams.get('X-Amz-Signature'), `a media request without X-Amz-Signature: ${bare(entry.url)}`)
      media.push(entry)
    } else {
      check(url.origin === pageOrigin, `a request to ${url.origin}, neither tollgate, the store nor the page's origin: ${bare(entry.url)}`)
      check(!isMedia && !isPlaylist, `HLS from the page's origin: ${bare(entry.url)}`)
    }
  }
  // hls.js aborts a load it no longer needs (a seek, a level switch): no answer then.
  const abortedByPage = (e) => e.status === null && e.failure === 'net::ERR_ABORTED'
  const unanswered = (list, ok) =>
    list.filter((e) => !abortedByPage(e) && !ok(e.status)).map((e) => `${bare(e.url)} → ${e.status ?? e.failure ?? 'no answer'}`)
  const stillOpen = settled ? '' : ' (some still open after 5 s)'
  const badPlaylists = unanswered(playlists, (status) => status === 200)
  check(badPlaylists.length === 0, `playlist requests not answered 200${stillOpen}: ${badPlaylists.join(', ')}`)
  const served = playlists.filter((e) => e.status === 200)
  check(
    served.some((e) => new URL(e.url).pathname === `${hlsPath}master.m3u8`) && served.length >= 2,
    `playlists tollgate served: ${served.map((e) => new URL(e.url).pathname).join(', ') || 'none'} (the master and a variant's at least)`,
  )
  check(media.length > 0, 'no media request reached the store')
  const badMedia = unanswered(media, (status) => status >= 200 && status < 300)
  check(badMedia.length === 0, `media requests not answered 2xx${stillOpen}: ${badMedia.join(', ')}`)
  const aborted = [...playlists, ...media].filter(abortedByPage)
  // The store served the fixture's bytes, at the path the playlist named.
  const folder = `${KEY_PREFIX}${id}/`
  for (const entry of media.filter((e) => e.status === 200)) {
    const key = keyFromObjectUrl(entry.url, target.store.bucket)
    check(key.startsWith(folder), `a media request outside video ${id}'s folder: ${key}`)
    const expected = await readFile(join(fixtureDir, key.slice(folder.length)))
    const body = await entry.response.body()
    check(sha256(body) === sha256(expected), `the store's answer for ${key} is not the fixture's file (${body.length} bytes)`)
  }
  return { playlists, media, aborted }
}

/** Heights of a master's variants, sorted. */
const heights = (levels) => levels.map((l) => l.height).sort((a, b) => a - b)

/** The RESOLUTION heights listed in a master playlist's text, sorted. */
const masterHeights = (text) => [...text.matchAll(/RESOLUTION=\d+x(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b)

/** Opens the hls.js test page (the test origin, cross-origin to tollgate and the store). */
async function hlsPage(ctx) {
  const open = await openLogged(ctx.browser, `${ctx.origin}/hls.html`)
  await open.page.waitForFunction(() => window.hlsPlayer !== undefined, null, { timeout: 10_000 })
  check(await open.page.evaluate(() => window.hlsPlayer.supported()), 'hls.js says this Chromium has no MediaSource')
  return open
}

/** The page's view of a failure, for messages: hls.js, the <video>, the console, the CSP. */
async function describePlayer(open) {
  const state = await open.page.evaluate(() => window.hlsPlayer?.state()).catch(() => null)
  return JSON.stringify({
    fatal: state?.fatal,
    currentTime: state?.currentTime,
    fragments: state?.events.filter((e) => e.type === 'fragment').map((e) => `${e.level}/${e.sn}`),
    console: open.consoleErrors.slice(0, 5),
  })
}

async function inPage(open, ms, what, fn, arg) {
  try {
    return await within(ms, what, open.page.evaluate(fn, arg))
  } catch (error) {
    throw new Error(`${what}: ${error.message.split('\n')[0]}; page: ${await describePlayer(open)}`, { cause: error })
  }
}

/** No CSP violation and no console error on the page. */
async function cleanConsole(open) {
  equal(await open.cspViolations(), [], 'Content-Security-Policy violations')
  equal(open.consoleErrors, [], 'console errors')
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/**
 * hls.js on the test origin plays the master that tollgate rewrote for an entitled caller, to
 * 3 s, then seeks into the last segment and plays on past the target. With a 1 s buffer goal
 * hls.js has not fetched that segment before the seek, so the seek must fetch it. Playlists come from
 * tollgate with the grant, media straight from the store, presigned.
 */
async function hlsPlaysRewrittenMaster(ctx) {
  const id = freshId('hls')
  const fixtureDir = join(ctx.repoRoot, HLS_FIXTURE)
  await ctx.tollgate.putHls(id, fixtureDir, ['--access', 'premium'])
  const outsider = await ctx.tollgate.token(['--sub', 'olga'])
  equal((await ctx.tollgate.videoUrl(outsider, id)).status, 403, 'GET /videos/{id}/url without the premium entitlement')
  const token = await ctx.tollgate.token(['--sub', 'paula', '--entitlement', 'premium'])
  const url = await hlsEntry(ctx, token, id)

  const open = await hlsPage(ctx)
  try {
    const config = { maxBufferLength: 1, maxMaxBufferLength: 1 }
    const levels = await inPage(open, PLAY_TIMEOUT_MS, 'loading the master', (a) => window.hlsPlayer.load(a.url, a.config), { url, config })
    equal(heights(levels), [...FIXTURE_HEIGHTS].sort((a, b) => a - b), 'variant heights hls.js read from the master')
    const played = await inPage(open, PLAY_TIMEOUT_MS, 'playing past 3 s', () => window.hlsPlayer.playPast(3))
    check(Math.abs(played.duration - FIXTURE_SECONDS) < 0.5, `duration ${played.duration}, not the fixture's ${FIXTURE_SECONDS} s`)
    const seeked = await inPage(open, PLAY_TIMEOUT_MS, `seeking to ${HLS_SEEK_TO} s`, (t) => window.hlsPlayer.seekTo(t), HLS_SEEK_TO)
    await cleanConsole(open)

    const { playlists, media, aborted } = await checkHlsTraffic(open, ctx, { id, pageOrigin: ctx.origin, fixtureDir })
    check(media.some((e) => /\/init_\d+\.mp4$/.test(new URL(e.url).pathname)), 'no fMP4 init segment (EXT-X-MAP) was fetched')
    // The seek: hls.js asked for a segment of the second half after it, and the store served it.
    const events = seeked.events
    // What hls.js did, for messages: `level/sn@start` per fragment, `seek→T`.
    const story = events.map((e) => (e.type === 'seek' ? `seek→${e.to}` : `${e.level}/${e.sn}@${e.start}`)).join(' ')
    const seekAt = events.findIndex((e) => e.type === 'seek')
    const afterSeek = events.slice(seekAt + 1).filter((e) => e.type === 'fragment' && e.start >= FIXTURE_SECONDS / 2)
    check(afterSeek.length > 0, `no segment of the second half was loaded after the seek: ${story}`)
    check(
      afterSeek.some((f) => f.start <= HLS_SEEK_TO && HLS_SEEK_TO < f.start + f.duration),
      `the segment holding ${HLS_SEEK_TO} s was not loaded after the seek: ${story}`,
    )
    for (const fragment of afterSeek) {
      const request = media.find((e) => e.url === fragment.url)
      check(request && request.status >= 200 && request.status < 300, `fragment ${fragment.level}/${fragment.sn} after the seek: ${request?.status ?? 'never requested'}`)
    }
    const names = (list) => list.map((e) => new URL(e.url).pathname.split('/').slice(-2).join('/'))
    return (
      `played to ${played.currentTime.toFixed(1)} s, seeked to ${HLS_SEEK_TO}, on at ${seeked.currentTime.toFixed(1)} s; ` +
      `${playlists.length} playlists from tollgate, ${media.length} media requests to the store` +
      `${aborted.length ? ` (${aborted.length} requests aborted by hls.js)` : ''}; after the seek: ${names(afterSeek.map((f) => ({ url: f.url }))).join(', ')}`
    )
  } finally {
    await open.close()
  }
}

/**
 * The MPEG-TS variant (180p) played alone: hls.js's light build transmuxes TS to fMP4 on the
 * page's thread (no worker), from segments the store serves.
 */
async function hlsPlaysTsVariant(ctx) {
  const id = freshId('hls-ts')
  const fixtureDir = join(ctx.repoRoot, HLS_FIXTURE)
  await ctx.tollgate.putHls(id, fixtureDir, ['--access', 'free'])
  const url = await hlsEntry(ctx, await ctx.tollgate.token(['--sub', 'tess']), id)
  const open = await hlsPage(ctx)
  try {
    const levels = await inPage(open, PLAY_TIMEOUT_MS, 'loading the master', (a) => window.hlsPlayer.load(a.url, a.config), {
      url,
      config: { autoStartLoad: false },
    })
    // hls.js orders variants by bitrate, not as the master lists them.
    const ts = levels.findIndex((level) => level.height === 180)
    check(ts >= 0, `no 180p variant among ${JSON.stringify(levels)}`)
    await open.page.evaluate((i) => window.hlsPlayer.playOnly(i), ts)
    const played = await inPage(open, PLAY_TIMEOUT_MS, 'playing past 2 s', () => window.hlsPlayer.playPast(2))
    equal(played.videoHeight, 180, 'height of the picture played')
    await cleanConsole(open)
    const { media } = await checkHlsTraffic(open, ctx, { id, pageOrigin: ctx.origin, fixtureDir })
    const segments = media.filter((e) => /\/ts\/seg-\d+\.ts$/.test(new URL(e.url).pathname) && e.status === 200)
    check(segments.length >= 2, `TS segments served: ${segments.length}`)
    return `played the 180p TS variant to ${played.currentTime.toFixed(1)} s; ${segments.length} .ts segments from the store`
  } finally {
    await open.close()
  }
}

/**
 * On a tollgate with hls.max_height.free = 360, a caller without entitlements plays a free
 * video: the master hls.js reads lists no 720p variant, nothing of 720p is asked for, and the
 * 720p playlist is refused even with the caller's grant. A premium caller's master lists it.
 */
async function freeCallerCapped(ctx) {
  const target = await ctx.capped()
  const id = freshId('hls-free')
  const fixtureDir = join(ctx.repoRoot, HLS_FIXTURE)
  await target.tollgate.putHls(id, fixtureDir, ['--access', 'free'])
  const url = await hlsEntry(target, await target.tollgate.token(['--sub', 'fred']), id)
  const allowed = FIXTURE_HEIGHTS.filter((h) => h <= CAPPED_FREE_HEIGHT).sort((a, b) => a - b)

  const open = await hlsPage(ctx)
  try {
    const levels = await inPage(open, PLAY_TIMEOUT_MS, 'loading the master', (u) => window.hlsPlayer.load(u), url)
    equal(heights(levels), allowed, "variant heights in the free caller's master")
    const played = await inPage(open, PLAY_TIMEOUT_MS, 'playing past 2 s', () => window.hlsPlayer.playPast(2))
    check(played.videoHeight <= CAPPED_FREE_HEIGHT, `played a ${played.videoHeight}p picture`)
    await cleanConsole(open)
    const { media } = await checkHlsTraffic(open, target, { id, pageOrigin: ctx.origin, fixtureDir })
    const tall = open.log.entries.filter((e) => /\/720p\//.test(e.url))
    equal(tall.map((e) => bare(e.url)), [], 'requests for the 720p rendition')

    // Asking for the 720p playlist anyway, with the free caller's grant: refused.
    const grant = new URL(url).searchParams.get('grant')
    const direct = await fetch(`${target.tollgate.url}/videos/${id}/hls/720p/index.m3u8?grant=${encodeURIComponent(grant)}`, {
      signal: AbortSignal.timeout(10_000),
    })
    equal(direct.status, 403, `the 720p playlist with the free caller's grant (${(await direct.text()).slice(0, 200)})`)

    // A premium caller (premium has no height cap) gets every variant of the same video.
    const premium = await hlsEntry(target, await target.tollgate.token(['--sub', 'pia', '--entitlement', 'premium']), id)
    const master = await fetch(premium, { signal: AbortSignal.timeout(10_000) })
    equal(master.status, 200, "the premium caller's master")
    equal(masterHeights(await master.text()), [...FIXTURE_HEIGHTS].sort((a, b) => a - b), "variant heights in the premium caller's master")
    return `free: ${allowed.map((h) => `${h}p`).join(' + ')}, played ${played.videoHeight}p to ${played.currentTime.toFixed(1)} s, ${media.length} media requests; 720p playlist: 403; premium: all ${FIXTURE_HEIGHTS.length}`
  } finally {
    await open.close()
  }
}

/** Opens tollgate's own /demo page and waits for the development token it asks for. */
async function demoPage(ctx) {
  const open = await openLogged(ctx.browser, `${ctx.tollgate.url}/demo`)
  try {
    await open.page.waitForFunction(() => document.getElementById('token').value.trim() !== '', null, { timeout: 10_000 })
  } catch (error) {
    const status = await open.page.locator('#token-status').textContent().catch(() => '')
    await open.close()
    throw new Error(`the page got no token: "${status}"; console: ${JSON.stringify(open.consoleErrors)}`, { cause: error })
  }
  return open
}

/** Waits until the demo page's <video> plays past `seconds`; answers its state. */
async function demoPlayedPast(open, seconds) {
  try {
    await open.page.waitForFunction((s) => document.getElementById('player').currentTime > s, seconds, { timeout: PLAY_TIMEOUT_MS })
  } catch (error) {
    const status = await open.page.locator('#player-status').textContent().catch(() => '')
    throw new Error(`the demo's <video> did not play past ${seconds} s; status: "${status}"; console: ${JSON.stringify(open.consoleErrors.slice(0, 5))}`, {
      cause: error,
    })
  }
  return open.page.evaluate(() => {
    const video = document.getElementById('player')
    return {
      currentTime: video.currentTime,
      currentSrc: video.currentSrc,
      status: document.getElementById('player-status').textContent,
    }
  })
}

/**
 * tollgate's /demo page, as a developer uses it: the clip through the Uppy Dashboard, completed,
 * played from its presigned URL. The store holds the clip's bytes. The full-page screenshot goes
 * to target/browser/demo.png, and to docs/demo.png with UPDATE_SCREENSHOTS=1 on the embedded
 * store (the README's picture: never rewritten by a plain run).
 */
async function demoUploadAndPlay(ctx) {
  const clip = await readFile(join(ctx.repoRoot, CLIP))
  const open = await demoPage(ctx)
  try {
    await open.page.locator('.uppy-Dashboard-input').first().setInputFiles(join(ctx.repoRoot, CLIP))
    await open.page.locator('.uppy-StatusBar-actionBtn--upload').click()
    const item = open.page.locator('#uploads li').filter({ has: open.page.getByRole('button', { name: 'Play' }) })
    try {
      await item.waitFor({ timeout: UPLOAD_TIMEOUT_MS })
    } catch (error) {
      const statusBar = await open.page.locator('.uppy-StatusBar').textContent().catch(() => '')
      const list = await open.page.locator('#uploads').textContent().catch(() => '')
      throw new Error(`no completed upload to play: status bar "${statusBar}", list "${list}"; console: ${JSON.stringify(open.consoleErrors.slice(0, 5))}`, {
        cause: error,
      })
    }
    const id = await item.getAttribute('data-id')
    const meta = await item.locator('.meta').textContent()
    check(meta.startsWith(`${clip.length} bytes · video/mp4`), `the completed upload reads "${meta}"`)
    const completions = open.log.to(ctx.tollgate.url).filter((e) => e.method === 'POST' && new URL(e.url).pathname === `/uploads/${id}/complete`)
    equal(completions.map((e) => e.status), [200], `the page's POST /uploads/${id}/complete`)
    await item.getByRole('button', { name: 'Play' }).click()
    const played = await demoPlayedPast(open, 1)
    const src = new URL(played.currentSrc)
    equal(src.origin, ctx.store.origin, "origin of the <video>'s source")
    check(src.searchParams.get('X-Amz-Signature'), `the <video> plays no presigned URL: ${bare(played.currentSrc)}`)
    equal(sha256(await ctx.store.getObject(`${KEY_PREFIX}${id}`)), sha256(clip), `SHA-256 of the stored ${KEY_PREFIX}${id}`)
    // The upload went from the page to the store, not through tollgate.
    const uploads = open.log.to(ctx.store.origin).filter((e) => e.method === 'POST' || e.method === 'PUT')
    equal(uploads.map((e) => e.status), [204], "the store's answers to the page's upload") // POST policy form, success_action_status 204
    await cleanConsole(open)

    const screenshot = join(ctx.repoRoot, SCREENSHOT)
    await mkdir(join(ctx.repoRoot, 'target/browser'), { recursive: true })
    await open.page.screenshot({ path: screenshot, fullPage: true })
    let saved = SCREENSHOT
    if (ctx.storeName === 'embedded' && process.env.UPDATE_SCREENSHOTS === '1') {
      await copyFile(screenshot, join(ctx.repoRoot, COMMITTED_SCREENSHOT))
      saved += ` and ${COMMITTED_SCREENSHOT}`
    }
    return `id ${id.slice(0, 13)}…, played to ${played.currentTime.toFixed(1)} s from the store; screenshot ${saved}`
  } finally {
    await open.close()
  }
}

/**
 * The /demo page plays an HLS video stored with `tollgate put-hls` (id hls-demo, free) by its id:
 * hls.js in the page, under the page's Content-Security-Policy.
 */
async function demoPlaysHlsById(ctx) {
  const fixtureDir = join(ctx.repoRoot, HLS_FIXTURE)
  await ctx.tollgate.putHls(DEMO_HLS_ID, fixtureDir, ['--access', 'free'])
  const open = await demoPage(ctx)
  try {
    await open.page.locator('#video-id').fill(DEMO_HLS_ID)
    await open.page.locator('#play-by-id').getByRole('button', { name: 'Play' }).click()
    const played = await demoPlayedPast(open, 2)
    check(played.currentSrc.startsWith('blob:'), `the <video> plays ${bare(played.currentSrc)}, not hls.js's MediaSource`)
    check(/hls\.js; renditions 180p, 360p, 720p\)/.test(played.status), `the page says "${played.status}"`)
    await cleanConsole(open)
    const { playlists, media } = await checkHlsTraffic(open, ctx, { id: DEMO_HLS_ID, pageOrigin: ctx.tollgate.url, fixtureDir })
    return `played to ${played.currentTime.toFixed(1)} s; ${playlists.length} playlists from tollgate, ${media.length} media requests to the store`
  } finally {
    await open.close()
  }
}

export const DEMO_AND_HLS_SCENARIOS = [
  ['demo: Dashboard upload, complete, play', demoUploadAndPlay],
  ['demo: plays HLS video hls-demo by id', demoPlaysHlsById],
  ['hls.js: plays the rewritten master, seeks', hlsPlaysRewrittenMaster],
  ['hls.js: plays the MPEG-TS variant', hlsPlaysTsVariant],
  ['hls.js: free caller never gets 720p', freeCallerCapped],
]
