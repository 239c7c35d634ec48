// A tollgate process for the tests: free ports, a temporary data directory, the store picked by
// `--store`, and the API calls the runner makes itself (tokens, completion, playback URLs).
import { spawn, execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A TCP port free right now on 127.0.0.1 (the kernel's pick). */
export async function freePort() {
  const server = createServer()
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Settings for the store under test: tollgate's env overrides and a Store that may list. */
export async function storeSettings(store, tmpDir) {
  if (store === 'embedded') {
    const port = await freePort()
    return {
      env: {
        TOLLGATE__STORAGE__EMBEDDED__ENABLED: 'true',
        TOLLGATE__STORAGE__EMBEDDED__ADDR: `127.0.0.1:${port}`,
        TOLLGATE__STORAGE__EMBEDDED__DATA_DIR: join(tmpDir, 's3'),
      },
      // config/local.toml's dev read key; the embedded store lets it list.
      s3: {
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        bucket: 'videos',
        accessKeyId: 'tollgate-dev-access-key',
        secretAccessKey: 'tollgate-dev-secret-key-not-for-production',
      },
    }
  }
  const need = (name) => {
    const value = process.env[name]
    if (!value) throw new Error(`--store garage needs ${name} (run under scripts/garage.sh --)`)
    return value
  }
  const endpoint = need('TOLLGATE_TEST_S3_ENDPOINT')
  const region = need('TOLLGATE_TEST_S3_REGION')
  const bucket = need('TOLLGATE_TEST_S3_BUCKET')
  return {
    env: {
      TOLLGATE__STORAGE__EMBEDDED__ENABLED: 'false',
      TOLLGATE__STORAGE__ENDPOINT: endpoint,
      TOLLGATE__STORAGE__REGION: region,
      TOLLGATE__STORAGE__BUCKET: bucket,
      TOLLGATE__STORAGE__ACCESS_KEY_ID: need('TOLLGATE_TEST_S3_READ_ONLY_ACCESS_KEY'),
      TOLLGATE__STORAGE__SECRET_ACCESS_KEY: need('TOLLGATE_TEST_S3_READ_ONLY_SECRET_KEY'),
      TOLLGATE__STORAGE__UPLOAD_ACCESS_KEY_ID: need('TOLLGATE_TEST_S3_WRITE_ONLY_ACCESS_KEY'),
      TOLLGATE__STORAGE__UPLOAD_SECRET_ACCESS_KEY: need('TOLLGATE_TEST_S3_WRITE_ONLY_SECRET_KEY'),
    },
    s3: {
      endpoint,
      region,
      bucket,
      accessKeyId: need('TOLLGATE_TEST_S3_ACCESS_KEY'),
      secretAccessKey: need('TOLLGATE_TEST_S3_SECRET_KEY'),
    },
  }
}

export class Tollgate {
  constructor({ bin, repoRoot, env, logPath }) {
    this.bin = bin
    this.repoRoot = repoRoot
    this.env = env
    this.logPath = logPath
    this.child = null
  }

  /** Starts `tollgate serve` and waits (bounded) until /readyz answers 200. */
  async start(timeoutMs) {
    const port = await freePort()
    this.url = `http://127.0.0.1:${port}`
    this.env = { ...this.env, TOLLGATE__SERVER__PORT: String(port) }
    const log = createWriteStream(this.logPath)
    // The binary reads config/ relative to its working directory: the repository root.
    this.child = spawn(this.bin, ['serve'], { cwd: this.repoRoot, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout.pipe(log)
    this.child.stderr.pipe(log)
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const state = await Promise.race([exited.then((code) => ({ exited: code })), this.#readyz()])
      if (state.exited !== undefined) throw new Error(`tollgate exited (${state.exited}) before ready:\n${await this.logTail()}`)
      if (state.ready) return
      await new Promise((resolve) => setTimeout(resolve, 100)) // poll interval, bounded by the deadline
    }
    throw new Error(`tollgate not ready after ${timeoutMs} ms:\n${await this.logTail()}`)
  }

  async #readyz() {
    try {
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(3000) })
      await res.arrayBuffer()
      return { ready: res.status === 200 }
    } catch {
      return { ready: false } // not listening yet
    }
  }

  async stop() {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(killer)
  }

  async logTail(lines = 40) {
    const text = await readFile(this.logPath, 'utf8').catch(() => '')
    return text.split('\n').slice(-lines).join('\n')
  }

  /** An HS256 token from `tollgate token`, with the same configuration (plus `env`). */
  async token(args, env = {}) {
    const { stdout } = await run(this.bin, ['token', ...args], { cwd: this.repoRoot, env: { ...this.env, ...env } })
    return stdout.trim()
  }

  /**
   * `tollgate put-hls --id ID ARGS… DIR` with this tollgate's settings, so into its store (the
   * embedded one of this process, or Garage with the upload key).
   */
  async putHls(id, dir, args = []) {
    try {
      const { stdout } = await run(this.bin, ['put-hls', '--id', id, ...args, dir], { cwd: this.repoRoot, env: this.env })
      return stdout.trim()
    } catch (error) {
      throw new Error(`tollgate put-hls --id ${id} failed: ${error.stderr || error.message}`)
    }
  }

  async #call(method, path, token, body) {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    let json = null
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON: keep the text for the error message
    }
    return { status: res.status, json, text }
  }

  postUpload(token, declaration) {
    return this.#call('POST', '/uploads', token, declaration)
  }

  complete(token, id) {
    return this.#call('POST', `/uploads/${encodeURIComponent(id)}/complete`, token)
  }

  videoUrl(token, id) {
    return this.#call('GET', `/videos/${encodeURIComponent(id)}/url`, token)
  }
}
