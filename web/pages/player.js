// A plain <video> element playing a presigned GET URL from tollgate, as a player page would.
// `crossorigin="anonymous"` makes the media requests CORS requests, so the bucket's CORS rule
// (ranges, exposed headers) is exercised, not bypassed as with an opaque no-cors load.

/** Resolves when `event` fires on `target`, rejects on the video's `error`. */
function once(video, event) {
  return new Promise((resolve, reject) => {
    const onError = () => reject(new Error(`video error ${video.error?.code}: ${video.error?.message}`))
    video.addEventListener(event, () => {
      video.removeEventListener('error', onError)
      resolve()
    }, { once: true })
    video.addEventListener('error', onError, { once: true })
  })
}

/** Resolves once playback has gone past `seconds`. */
function playedPast(video, seconds) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (video.currentTime > seconds) {
        video.removeEventListener('timeupdate', check)
        resolve()
      }
    }
    video.addEventListener('timeupdate', check)
    video.addEventListener('error', () => reject(new Error(`video error ${video.error?.code}`)), { once: true })
  })
}

window.player = {
  canPlay: (type) => document.createElement('video').canPlayType(type),

  /** Plays `url` until currentTime > 1 s; answers the duration. */
  async play(url) {
    const video = document.querySelector('video')
    video.crossOrigin = 'anonymous'
    video.muted = true // autoplay without a user gesture needs muted media
    video.src = url
    await once(video, 'loadedmetadata')
    await video.play()
    await playedPast(video, 1)
    return { duration: video.duration, currentTime: video.currentTime }
  },

  /**
   * Seeks to `fraction` of the duration, waits for `seeked` and for playback to go on from
   * there; answers the target and where playback is.
   */
  async seekTo(fraction) {
    const video = document.querySelector('video')
    const target = video.duration * fraction
    const seeked = once(video, 'seeked')
    video.currentTime = target
    await seeked
    await playedPast(video, target + 0.2)
    return { target, currentTime: video.currentTime }
  },

  /**
   * Uploads the file at `fileUrl` (this origin) to a presigned PUT `url` with the granted
   * `headers`, as a page without Uppy would; answers the store's status and body.
   */
  async upload(fileUrl, url, headers) {
    const file = await fetch(fileUrl)
    if (!file.ok) throw new Error(`GET ${fileUrl}: ${file.status}`)
    const res = await fetch(url, { method: 'PUT', headers, body: await file.blob() })
    return { status: res.status, body: await res.text() }
  },

  /** A ranged fetch from this origin: the status, the exposed Content-Range and the bytes. */
  async fetchRange(url, start, end) {
    const res = await fetch(url, { headers: { Range: `bytes=${start}-${end}` } })
    const bytes = new Uint8Array(await res.arrayBuffer())
    return { status: res.status, contentRange: res.headers.get('content-range'), bytes: Array.from(bytes) }
  },
}
