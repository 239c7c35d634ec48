// Test hooks shared by the Uppy pages: what the runner calls through `page.evaluate`. The Uppy
// wiring itself lives in uppy6.js and ../uppy4/uppy4.js, written as an app would write it (the
// README quotes them); uppy6-test.js and ../uppy4/uppy4-test.js join it to this file, which only
// feeds it files and records what Uppy reports.

/** Deterministic bytes (xorshift32), so the runner knows the content without shipping it. */
function pseudoRandomBytes(size, seed) {
  const bytes = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * Installs `window.harness` for an Uppy instance made by `createUppy(options)`.
 * State is plain data, so that `page.evaluate(() => harness.state())` can return it.
 */
export function installHarness(createUppy) {
  let uppy
  const state = {
    successes: [], // {fileId, name, key, uploadURL}
    errors: [], // {fileId, message}
    parts: [], // {fileId, partNumber}
    paused: false,
    cancelled: false,
    settled: false, // Uppy's `complete` event, or a cancel
  }
  const afterPart = new Map() // part number -> action, for pause/cancel mid-upload

  function record() {
    uppy.on('upload-success', (file, response) => {
      state.successes.push({
        fileId: file.id,
        name: file.name,
        key: response?.body?.key ?? null,
        uploadURL: response?.uploadURL ?? null,
      })
    })
    uppy.on('upload-error', (file, error) => {
      state.errors.push({ fileId: file?.id ?? null, message: String(error?.message ?? error) })
    })
    uppy.on('s3-multipart:part-uploaded', (file, part) => {
      state.parts.push({ fileId: file.id, partNumber: part.PartNumber })
      const action = afterPart.get(part.PartNumber)
      if (action) {
        afterPart.delete(part.PartNumber)
        action(file)
      }
    })
    uppy.on('upload-pause', (file, isPaused) => {
      state.paused = isPaused
    })
    uppy.on('complete', () => {
      state.settled = true
    })
  }

  window.harness = {
    setup(options) {
      uppy = createUppy({ ...options, target: '#uppy' })
      record()
    },

    /** Adds a file of `size` deterministic bytes; answers its Uppy id and SHA-256 (hex). */
    async addGeneratedFile({ name, type, size, seed }) {
      const bytes = pseudoRandomBytes(size, seed)
      const fileId = uppy.addFile({ name, type, data: new File([bytes], name, { type }) })
      return { fileId, sha256: await sha256Hex(bytes) }
    },

    /** Starts the upload without waiting; the runner waits on `state()`. */
    start() {
      uppy.upload().catch((error) => {
        state.errors.push({ fileId: null, message: String(error?.message ?? error) })
      })
    },

    /**
     * Pauses the file as soon as part `partNumber` is stored. Done inside the page, in the
     * event handler, so that the next part's request has not started yet: the runner can then
     * count part PUTs exactly.
     */
    pauseAfterPart(partNumber) {
      afterPart.set(partNumber, (file) => uppy.pauseResume(file.id))
    },

    resume(fileId) {
      uppy.pauseResume(fileId)
    },

    /** Cancels everything (the user's "Cancel" button) once part `partNumber` is stored. */
    cancelAfterPart(partNumber) {
      afterPart.set(partNumber, () => {
        uppy.cancelAll()
        state.cancelled = true
        state.settled = true
      })
    },

    state() {
      return structuredClone(state)
    },

    /** What the Dashboard shows the user about failed files. */
    dashboardErrors() {
      const items = [...document.querySelectorAll('.uppy-Dashboard-Item.is-error')]
      const statusBar = document.querySelector('.uppy-StatusBar')
      return {
        failedItems: items.length,
        details: items.map(
          (item) => item.querySelector('.uppy-Dashboard-Item-errorDetails')?.getAttribute('aria-label') ?? '',
        ),
        statusBar: statusBar?.textContent?.trim() ?? '',
      }
    },
  }
}
