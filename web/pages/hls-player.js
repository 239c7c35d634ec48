// hls.js (the light build the /demo page ships) playing a master playlist from tollgate on a page
// of another origin, as a player app would. The page keeps, in order, what hls.js reported
// (fragments it loaded, seeks), for the runner to set against the requests Chromium made.
import Hls from 'hls.js/light'

const video = document.querySelector('video')
let hls = null
const events = [] // {type: 'fragment', url, level, sn, start, duration} | {type: 'seek', to}
let fatal = null

/** Rejects when hls.js or the <video> reports a fatal error; `settle` gets the rejection. */
function watchErrors(reject) {
  const onVideoError = () => reject(new Error(`video error ${video.error?.code}: ${video.error?.message}`))
  video.addEventListener('error', onVideoError, { once: true })
  const timer = setInterval(() => {
    if (fatal) reject(new Error(fatal))
  }, 50)
  return () => {
    clearInterval(timer)
    video.removeEventListener('error', onVideoError)
  }
}

/** Resolves once playback has gone past `seconds`. */
function playedPast(seconds) {
  return new Promise((resolve, reject) => {
    const stop = watchErrors(reject)
    const check = () => {
      if (video.currentTime > seconds) {
        video.removeEventListener('timeupdate', check)
        stop()
        resolve()
      }
    }
    video.addEventListener('timeupdate', check)
    check()
  })
}

function levelsOf(h) {
  return h.levels.map((level) => ({ height: level.height, bitrate: level.bitrate, codecs: level.codecSet }))
}

window.hlsPlayer = {
  supported: () => Hls.isSupported(),

  /**
   * Loads `url` with hls.js (`config` on top of its defaults) into the <video>; resolves with
   * the variants of the master playlist once hls.js parsed it.
   */
  load(url, config = {}) {
    return new Promise((resolve, reject) => {
      // The same setting as the /demo page: no worker (its CSP allows none).
      hls = new Hls({ enableWorker: false, ...config })
      hls.on(Hls.Events.FRAG_LOADING, (_event, { frag }) => {
        events.push({ type: 'fragment', url: frag.url, level: frag.level, sn: frag.sn, start: frag.start, duration: frag.duration })
      })
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) {
          // The URL without its query: no signature or grant in the runner's messages.
          const url = (data.url ?? data.frag?.url ?? '').split('?')[0]
          fatal = `hls.js ${data.type}: ${data.details} (${data.response?.code ?? ''} ${url})`
          reject(new Error(fatal))
        }
      })
      hls.on(Hls.Events.MANIFEST_PARSED, () => resolve(levelsOf(hls)))
      hls.loadSource(url)
      hls.attachMedia(video)
    })
  },

  /** Plays (muted: no user gesture) until currentTime > `seconds`. */
  async playPast(seconds) {
    video.muted = true
    await video.play()
    await playedPast(seconds)
    return this.state()
  },

  /** Seeks to `seconds`, waits for `seeked` and for playback to go on past `seconds + 0.3`. */
  async seekTo(seconds) {
    events.push({ type: 'seek', to: seconds })
    const seeked = new Promise((resolve, reject) => {
      const stop = watchErrors(reject)
      video.addEventListener('seeked', () => {
        stop()
        resolve()
      }, { once: true })
    })
    video.currentTime = seconds
    await seeked
    await playedPast(seconds + 0.3)
    return this.state()
  },

  /**
   * Plays variant `index` only (ABR off); after `load(url, {autoStartLoad: false})`, so that
   * hls.js loads nothing of the variant it would have started with.
   */
  playOnly(index) {
    hls.currentLevel = index
    hls.startLoad()
  },

  state: () => ({
    currentTime: video.currentTime,
    duration: video.duration,
    videoHeight: video.videoHeight,
    currentSrc: video.currentSrc,
    level: hls?.currentLevel ?? null,
    levels: hls ? levelsOf(hls) : [],
    events: events.slice(),
    fatal,
  }),
}
