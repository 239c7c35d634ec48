// The /demo page: Uppy 6.x uploads through tollgate's POST /s3/sign, completes each upload with
// POST /uploads/{id}/complete, and plays it from GET /videos/{id}/url: a file from its presigned
// URL, an HLS video with hls.js from tollgate's rewritten master playlist. Bundled by
// scripts/build-demo.sh into web/demo/dist/, which tollgate compiles in.
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import AwsS3 from '@uppy/aws-s3'
// The light build plays fMP4 and MPEG-TS (H.264, AAC); it leaves out subtitles, alternate
// audio, DRM and CMCD, which the demo does not need.
import Hls from 'hls.js/light'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'
import './demo.css'

const tokenBox = document.getElementById('token')
const tokenStatus = document.getElementById('token-status')
const uploadsList = document.getElementById('uploads')
const uploadsEmpty = document.getElementById('uploads-empty')
const player = document.getElementById('player')
const playerStatus = document.getElementById('player-status')
const playById = document.getElementById('play-by-id')
const videoIdBox = document.getElementById('video-id')

let keyPrefix = 'videos/'

/// Calls tollgate with the page's token; throws tollgate's error message on a refusal.
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${tokenBox.value.trim()}` }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const answer = await res.json().catch(() => null)
  if (!res.ok) {
    throw new Error(answer?.error?.message ?? `${method} ${path}: HTTP ${res.status}`)
  }
  return answer
}

async function startSession() {
  try {
    const res = await fetch('/demo/session', { method: 'POST' })
    const session = await res.json()
    keyPrefix = session.key_prefix
    if (session.token) {
      tokenBox.value = session.token
      tokenStatus.textContent = `A development token (subject "demo", uploader role) for ${Math.round(session.expires_in / 60)} minutes, minted with the published development secret.`
    } else {
      tokenStatus.textContent =
        'This tollgate has a secret of its own: paste a token with the uploader role.'
    }
  } catch (error) {
    tokenStatus.textContent = `Could not start a session: ${error.message}`
    tokenStatus.className = 'error'
  }
}

const uppy = new Uppy({
  restrictions: { allowedFileTypes: ['video/*'] },
})
  .use(Dashboard, {
    target: '#uppy',
    inline: true,
    height: 320,
    proudlyDisplayPoweredByUppy: false,
  })
  .use(AwsS3, {
    // Multipart above 16 MiB, so that large videos show it; tollgate signs every request.
    shouldUseMultipart: (file) => file.size > 16 * 2 ** 20,
    signRequest: (request) => api('/s3/sign', { method: 'POST', body: request }),
  })

uppy.on('upload-success', async (file, response) => {
  const key = response.body.key
  const id = key.startsWith(keyPrefix) ? key.slice(keyPrefix.length) : key
  const item = document.createElement('li')
  item.dataset.id = id
  const label = document.createElement('div')
  label.innerHTML = '<div class="name"></div><div class="meta"></div>'
  label.querySelector('.name').textContent = file.name
  const meta = label.querySelector('.meta')
  meta.textContent = 'completing…'
  item.append(label)
  uploadsList.append(item)
  uploadsEmpty.hidden = true
  try {
    const done = await api(`/uploads/${encodeURIComponent(id)}/complete`, { method: 'POST' })
    meta.textContent = `${done.size} bytes · ${done.content_type} · ${done.access} · id ${id}`
    const play = document.createElement('button')
    play.type = 'button'
    play.textContent = 'Play'
    play.addEventListener('click', () => playVideo(id, file.name))
    item.append(play)
  } catch (error) {
    meta.textContent = `not completed: ${error.message}`
    meta.className = 'meta error'
  }
})

/** The hls.js instance playing, if any: one per video, destroyed before the next. */
let hls = null

function stopPlayback() {
  hls?.destroy()
  hls = null
  player.removeAttribute('src')
  player.load()
}

/**
 * Plays an HLS master playlist with hls.js (MediaSource: the <video> gets a blob: URL and hls.js
 * fetches playlists and segments itself), else natively where the browser plays HLS; answers how.
 */
function playHls(url, name) {
  if (Hls.isSupported()) {
    // No worker: the ESM build inlines none, and a blob: worker would need `worker-src blob:` in
    // the page's CSP. Transmuxing MPEG-TS segments on the page's thread is cheap enough here.
    hls = new Hls({ enableWorker: false })
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, { levels }) => {
      const heights = levels.map((level) => `${level.height}p`).join(', ')
      playerStatus.textContent = `Playing ${name} (HLS with hls.js; renditions ${heights}).`
    })
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) {
        playerStatus.textContent = `Cannot play ${name}: hls.js ${data.type}: ${data.details}`
        playerStatus.className = 'error'
      }
    })
    hls.loadSource(url)
    hls.attachMedia(player)
    return 'HLS with hls.js'
  }
  if (player.canPlayType('application/vnd.apple.mpegurl')) {
    player.src = url
    return 'HLS, played natively'
  }
  throw new Error('this browser plays HLS neither with hls.js (no MediaSource) nor natively')
}

/** Counts playVideo calls: a playback that a later one replaced reports nothing. */
let playbacks = 0

async function playVideo(id, name) {
  const playback = ++playbacks
  playerStatus.className = ''
  try {
    const { url, format } = await api(`/videos/${encodeURIComponent(id)}/url`)
    if (playback !== playbacks) return
    stopPlayback()
    player.hidden = false
    if (format === 'hls') {
      playerStatus.textContent = `Playing ${name} (${playHls(url, name)}).`
    } else {
      player.src = url
      playerStatus.textContent = `Playing ${name} from a presigned URL.`
    }
    await player.play()
  } catch (error) {
    if (playback !== playbacks) return
    playerStatus.textContent = `Cannot play ${name}: ${error.message}`
    playerStatus.className = 'error'
  }
}

playById.addEventListener('submit', (event) => {
  event.preventDefault()
  const id = videoIdBox.value.trim()
  playVideo(id, id)
})

startSession()
