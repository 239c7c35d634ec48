// What Chromium itself fetched of one URL, over the DevTools protocol: each request's Range, its
// answer, how many body bytes had arrived when the next request went out, and the first body
// bytes of ranged answers. Playwright's own events say none of this for a media request, which
// never finishes while the <video> element holds it open.

/** `bytes=START-` or `bytes=START-END` → {start, end (inclusive, or null)}; else null. */
export function parseRange(header) {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header ?? '')
  return m ? { start: Number(m[1]), end: m[2] === '' ? null : Number(m[2]) } : null
}

function header(headers, name) {
  const found = Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name)
  return found ? found[1] : null
}

/**
 * Starts recording the page's requests for `url` (exact match). `requests()` answers them in
 * the order Chromium sent them:
 * `{range, start, end, receivedBefore, status, contentRange, received, body, outcome}` where
 * `receivedBefore` is, for each earlier request, the `[start, start + bytes received)` span
 * it had delivered when this one was sent, and `body` the first bytes of the answer (ranged
 * answers with a start past 0 only).
 */
export async function recordFetches(page, url) {
  const cdp = await page.context().newCDPSession(page)
  const byId = new Map()
  const inOrder = []

  cdp.on('Network.requestWillBeSent', (event) => {
    if (event.request.url !== url || byId.has(event.requestId)) return
    const range = header(event.request.headers, 'range')
    const parsed = parseRange(range)
    const request = {
      range,
      start: parsed?.start ?? 0,
      end: parsed?.end ?? null,
      receivedBefore: inOrder.map((r) => [r.start, r.start + r.received]),
      status: null,
      contentRange: null,
      received: 0,
      chunks: [],
      outcome: 'open',
    }
    byId.set(event.requestId, request)
    inOrder.push(request)
  })
  cdp.on('Network.responseReceived', async (event) => {
    const request = byId.get(event.requestId)
    if (!request) return
    request.status = event.response.status
    request.contentRange = header(event.response.headers, 'content-range')
    if (request.start > 0) {
      // From here on, dataReceived carries the bytes; what came before is in bufferedData.
      try {
        const { bufferedData } = await cdp.send('Network.streamResourceContent', { requestId: event.requestId })
        request.chunks.unshift(Buffer.from(bufferedData, 'base64'))
      } catch (error) {
        request.streamError = error.message // finished or cancelled already: body stays unknown
      }
    }
  })
  cdp.on('Network.dataReceived', (event) => {
    const request = byId.get(event.requestId)
    if (!request) return
    request.received += event.dataLength
    if (event.data) request.chunks.push(Buffer.from(event.data, 'base64'))
  })
  cdp.on('Network.loadingFinished', (event) => {
    const request = byId.get(event.requestId)
    if (request) request.outcome = 'finished'
  })
  cdp.on('Network.loadingFailed', (event) => {
    const request = byId.get(event.requestId)
    if (request) request.outcome = event.canceled ? 'cancelled' : `failed: ${event.errorText}`
  })
  await cdp.send('Network.enable')

  return {
    requests: () => inOrder.map(({ chunks, ...request }) => ({ ...request, body: Buffer.concat(chunks) })),
    stop: () => cdp.detach(),
  }
}
