#!/usr/bin/env node
// Browser tests: the real @uppy/aws-s3 clients (4.x, 6.x) and a <video> element in headless
// Chromium against a running tollgate, on its embedded store or on Garage.
//
//   node web/browser-tests/run.mjs --store embedded|garage [--only TEXT] [--bin PATH]
//
// --store garage reads the store's settings from scripts/garage.sh's TOLLGATE_TEST_S3_* variables.
// Needs the playback clip that scripts/make-fixture.sh --long makes (scripts/browser-test.sh
// does). A second tollgate, with a 5 MiB upload maximum, and a third, with free callers' HLS
// capped at 360p, start for the scenarios that need them. UPDATE_SCREENSHOTS=1 on the embedded
// store copies the demo page's screenshot to docs/demo.png.
// Prints one line per scenario, then "N passed, N failed"; exits 1 on any failure.
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { launchChromium } from './lib/browser.mjs'
import { buildPages, serveStatic } from './lib/site.mjs'
import { Store } from './lib/store.mjs'
import { Tollgate, storeSettings } from './lib/tollgate.mjs'
import { CAPPED_FREE_HEIGHT } from './demo-hls-scenarios.mjs'
import { LIMITED_MAX_SIZE, LONG_CLIP, SCENARIOS } from './scenarios.mjs'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const RUN_TIMEOUT_MS = 10 * 60_000 // the whole run, start-up included
const SCENARIO_TIMEOUT_MS = 120_000
const READY_TIMEOUT_MS = 30_000

function options() {
  const { values } = parseArgs({
    options: {
      store: { type: 'string', default: 'embedded' },
      only: { type: 'string' },
      bin: { type: 'string' },
      chromium: { type: 'string', default: process.env.CHROMIUM ?? '/usr/bin/chromium' },
    },
  })
  if (!['embedded', 'garage'].includes(values.store)) throw new Error(`--store must be embedded or garage, not ${values.store}`)
  const targetDir = process.env.CARGO_TARGET_DIR ? resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : join(REPO_ROOT, 'target')
  values.bin ??= process.env.TOLLGATE_BIN ?? join(targetDir, 'debug/tollgate')
  return values
}

/** The tollgates started, for their logs when a scenario failed. */
const tollgates = []

/** Things to undo at the end, in reverse order, whatever happened. */
const cleanups = []
async function cleanUp() {
  while (cleanups.length > 0) {
    await cleanups.pop()().catch((error) => console.error(`cleanup: ${error.message}`))
  }
}

/**
 * A tollgate with the store picked by `--store` (for the embedded store: its own, in `tmp`),
 * this run's settings plus `env`, and tokens it accepts or refuses.
 */
async function startTollgate(opts, tmp, env = {}) {
  await mkdir(tmp, { recursive: true })
  const settings = await storeSettings(opts.store, tmp)
  // Only the settings of this run: an inherited TOLLGATE__* variable would change what is tested.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TOLLGATE__') && name !== 'TOLLGATE_ENV'))
  const tollgate = new Tollgate({
    bin: opts.bin,
    repoRoot: REPO_ROOT,
    logPath: join(tmp, 'tollgate.log'),
    env: { ...inherited, ...settings.env, TOLLGATE__STORAGE__READINESS_CACHE_MS: '0', RUST_LOG: 'info', NO_COLOR: '1', ...env },
  })
  cleanups.push(() => tollgate.stop())
  tollgates.push({ name: basename(tmp), tollgate })
  await tollgate.start(READY_TIMEOUT_MS)

  const tokens = {
    uploader: await tollgate.token(['--sub', 'alice', '--role', 'uploader']),
    garbage: 'not-a-jwt',
    // Well-formed, but signed with a secret tollgate does not have.
    wrongSecret: await tollgate.token(['--sub', 'alice', '--role', 'uploader'], {
      TOLLGATE__AUTH__HMAC_SECRET: 'another-secret-that-tollgate-does-not-know-0123456789',
    }),
  }
  return { tollgate, tokens, store: new Store(settings.s3) }
}

/** Memoises `make()`: started on first use only, so that `--only` runs skip what they need not. */
function lazily(make) {
  let made
  return () => (made ??= make())
}

async function start(opts) {
  const tmp = await mkdtemp(join(tmpdir(), 'tollgate-browser-'))
  cleanups.push(() => rm(tmp, { recursive: true, force: true }))

  const site = join(REPO_ROOT, 'target/browser')
  try {
    await access(join(site, LONG_CLIP))
  } catch {
    throw new Error(`no ${join('target/browser', LONG_CLIP)}: make it with scripts/make-fixture.sh --long (scripts/browser-test.sh does)`)
  }
  await buildPages(REPO_ROOT, site)
  const { server, origin } = await serveStatic(site)
  cleanups.push(() => new Promise((done) => server.close(done)))

  const main = await startTollgate(opts, join(tmp, 'main'))
  const browser = await launchChromium(opts.chromium)
  cleanups.push(() => browser.close())

  return {
    repoRoot: REPO_ROOT,
    storeName: opts.store,
    origin,
    browser,
    longClip: { path: join(site, LONG_CLIP), url: `${origin}/${LONG_CLIP}` },
    ...main,
    // A second tollgate whose largest single upload is the multipart threshold, S3's 5 MiB
    // minimum part size: what the store refuses above it can then be tried with small files.
    limited: lazily(() =>
      startTollgate(opts, join(tmp, 'limited'), {
        TOLLGATE__UPLOADS__MAX_SIZE_BYTES: String(LIMITED_MAX_SIZE),
        TOLLGATE__UPLOADS__MULTIPART_THRESHOLD_BYTES: String(LIMITED_MAX_SIZE),
      }),
    ),
    // A third whose free tier plays HLS renditions up to 360 pixels tall (the default is 720).
    capped: lazily(() => startTollgate(opts, join(tmp, 'capped'), { TOLLGATE__HLS__MAX_HEIGHT__FREE: String(CAPPED_FREE_HEIGHT) })),
  }
}

async function runScenario(ctx, name, scenario) {
  const began = performance.now()
  let timer
  try {
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${SCENARIO_TIMEOUT_MS} ms`)), SCENARIO_TIMEOUT_MS)
    })
    const detail = await Promise.race([scenario(ctx), timeout])
    return { ok: true, name, detail, ms: performance.now() - began }
  } catch (error) {
    return { ok: false, name, detail: error.message, ms: performance.now() - began }
  } finally {
    clearTimeout(timer)
  }
}

function report({ ok, name, detail, ms }, store) {
  const seconds = `${(ms / 1000).toFixed(1)}s`.padStart(6)
  console.log(`${ok ? 'PASS' : 'FAIL'} ${seconds}  [${store}] ${name.padEnd(44)} ${detail ?? ''}`)
}

async function main() {
  const opts = options()
  const began = performance.now()
  const ctx = await start(opts)
  console.log(`browser tests on the ${opts.store} store: tollgate ${ctx.tollgate.url}, pages ${ctx.origin}, store ${ctx.store.origin}, Chromium ${ctx.browser.version()}`)
  const selected = SCENARIOS.filter(([name]) => !opts.only || name.includes(opts.only))
  let failed = 0
  for (const [name, scenario] of selected) {
    const result = await runScenario(ctx, name, scenario)
    report(result, opts.store)
    if (!result.ok) failed++
  }
  if (failed > 0) {
    for (const { name, tollgate } of tollgates) console.log(`${name} tollgate's last log lines:\n${await tollgate.logTail(20)}`)
  }
  console.log(`browser tests on the ${opts.store} store took ${((performance.now() - began) / 1000).toFixed(1)}s`)
  console.log(`${selected.length - failed} passed, ${failed} failed`)
  return failed === 0 ? 0 : 1
}

const deadline = setTimeout(async () => {
  console.error(`browser tests: the whole run took over ${RUN_TIMEOUT_MS / 1000} s, stopping`)
  await cleanUp()
  process.exit(1)
}, RUN_TIMEOUT_MS)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await cleanUp()
    process.exit(130)
  })
}

let status = 1
try {
  status = await main()
} catch (error) {
  console.error(`browser tests: ${error.stack ?? error}`)
} finally {
  await cleanUp()
  clearTimeout(deadline)
}
process.exit(status)
