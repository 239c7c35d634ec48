// Chromium (Debian's, driven by playwright-core) and one page per scenario, with a log of every
// request the page made to the store: what the runner counts and checks.
import { chromium } from 'playwright-core'

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
]

export function launchChromium(executablePath) {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30_000 })
}

/** What a page sent to the store and what came back, in order. */
class StoreTraffic {
  constructor(storeOrigin) {
    this.storeOrigin = storeOrigin
    this.requests = [] // {method, url, query, range}
    this.responses = [] // {method, url, query, status, range, response (Playwright's)}
  }

  isStore(url) {
    return url.startsWith(`${this.storeOrigin}/`)
  }

  static describe(request) {
    const url = new URL(request.url())
    return { method: request.method(), url: request.url(), query: url.searchParams, range: request.headers().range ?? null }
  }

  /** UploadPart requests (PUT …?partNumber=N&uploadId=U): their part numbers. */
  partPuts() {
    return this.requests.filter((r) => r.method === 'PUT' && r.query.has('partNumber')).map((r) => Number(r.query.get('partNumber')))
  }

  /** ListParts requests (GET …?uploadId=U). */
  listParts() {
    return this.requests.filter((r) => r.method === 'GET' && r.query.has('uploadId'))
  }

  /** Single-request uploads: a PUT of an object or a POST policy form, not multipart steps. */
  singleUploads() {
    return this.requests.filter(
      (r) => (r.method === 'PUT' || r.method === 'POST') && !r.query.has('uploadId') && !r.query.has('uploads'),
    )
  }
}

/**
 * Opens `${origin}/${name}.html` in a fresh context and waits for its test API (`apiName` on
 * window). Console errors and page errors are kept for failure messages.
 */
export async function openPage(browser, { origin, name, apiName, storeOrigin }) {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.setDefaultTimeout(30_000)
  const traffic = new StoreTraffic(storeOrigin)
  const consoleErrors = []
  page.on('request', (request) => {
    if (traffic.isStore(request.url())) traffic.requests.push(StoreTraffic.describe(request))
  })
  page.on('response', (response) => {
    if (traffic.isStore(response.url())) {
      traffic.responses.push({ ...StoreTraffic.describe(response.request()), status: response.status(), response })
    }
  })
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => consoleErrors.push(String(error)))
  await page.goto(`${origin}/${name}.html`)
  await page.waitForFunction((api) => window[api] !== undefined, apiName, { timeout: 10_000 })
  return { context, page, traffic, consoleErrors, close: () => context.close() }
}

/**
 * Every request a page made, in the order Chromium sent them, with its answer's status or why it
 * failed: `{url, method, status, failure, response}` (status null until answered).
 */
class RequestLog {
  constructor(page) {
    this.entries = []
    const byRequest = new Map()
    page.on('request', (request) => {
      const entry = { url: request.url(), method: request.method(), status: null, failure: null, response: null }
      byRequest.set(request, entry)
      this.entries.push(entry)
    })
    page.on('response', (response) => {
      const entry = byRequest.get(response.request())
      if (!entry) return
      entry.status = response.status()
      entry.response = response
    })
    page.on('requestfailed', (request) => {
      const entry = byRequest.get(request)
      if (entry) entry.failure = request.failure()?.errorText ?? 'failed'
    })
  }

  /**
   * Waits (at most `timeoutMs`) until every request was answered or failed; answers whether
   * that happened.
   */
  async settled(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs
    while (this.entries.some((e) => e.status === null && e.failure === null)) {
      if (Date.now() > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 50)) // poll, bounded by the deadline
    }
    return true
  }

  /** The requests to `origin` (scheme://host:port). */
  to(origin) {
    return this.entries.filter((e) => new URL(e.url).origin === origin)
  }
}

/**
 * Opens `url` (any origin: tollgate's own /demo page too) in a fresh context, logging every
 * request. Console errors, page errors and Content-Security-Policy violations are kept for
 * assertions and failure messages.
 */
export async function openLogged(browser, url) {
  const context = await browser.newContext()
  // Playwright's init scripts run outside the page's CSP: this one only listens.
  await context.addInitScript(() => {
    window.__cspViolations = []
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.effectiveDirective} refused ${e.blockedURI || '(inline)'}`)
    })
  })
  const page = await context.newPage()
  page.setDefaultTimeout(30_000)
  const log = new RequestLog(page)
  const consoleErrors = []
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => consoleErrors.push(String(error)))
  await page.goto(url)
  return {
    context,
    page,
    log,
    consoleErrors,
    cspViolations: () => page.evaluate(() => window.__cspViolations),
    close: () => context.close(),
  }
}
