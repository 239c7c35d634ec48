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
