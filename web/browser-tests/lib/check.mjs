// Assertions shared by the scenarios: a scenario throws to fail, with what it saw in the message.
import { createHash } from 'node:crypto'

export function check(condition, message) {
  if (!condition) throw new Error(message)
}

export function equal(actual, expected, what) {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  check(a === e, `${what}: expected ${e}, got ${a}`)
}

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

/** Rejects after `ms` with `what` in the message; for page.evaluate calls, which have no timeout. */
export function within(ms, what, promise) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
