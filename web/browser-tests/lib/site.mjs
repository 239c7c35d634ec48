// The test origin: the pages bundled by esbuild into target/browser/, served by a tiny static
// server on http://localhost:PORT, while tollgate and the store answer on 127.0.0.1. Every call
// from a page is therefore cross-origin, and CORS is really exercised.
import { createServer } from 'node:http'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { extname, join, normalize } from 'node:path'
import * as esbuild from 'esbuild'

const PAGES = {
  uppy6: { entry: 'web/pages/uppy6-test.js', title: 'tollgate × Uppy 6.x', body: '<div id="uppy"></div>' },
  uppy4: { entry: 'web/uppy4/uppy4-test.js', title: 'tollgate × Uppy 4.x', body: '<div id="uppy"></div>' },
  player: { entry: 'web/pages/player.js', title: 'tollgate player', body: '<video controls playsinline></video>' },
  hls: { entry: 'web/pages/hls-player.js', title: 'tollgate × hls.js', body: '<video controls playsinline></video>' },
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' }

function html(name, { title, body }, hasCss) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<link rel="icon" href="data:,">
${hasCss ? `<link rel="stylesheet" href="${name}.css">` : ''}
</head><body>
${body}
<script type="module" src="${name}.js"></script>
</body></html>
`
}

/** Bundles every page into `outDir` (one .js, maybe one .css, and an .html per page). */
export async function buildPages(repoRoot, outDir) {
  await mkdir(outDir, { recursive: true })
  const result = await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: Object.fromEntries(Object.entries(PAGES).map(([name, page]) => [name, page.entry])),
    bundle: true,
    format: 'esm',
    target: 'chrome120',
    sourcemap: true,
    outdir: outDir,
    logLevel: 'warning',
    metafile: true,
  })
  const outputs = Object.keys(result.metafile.outputs)
  for (const [name, page] of Object.entries(PAGES)) {
    const hasCss = outputs.some((path) => path.endsWith(`/${name}.css`))
    await writeFile(join(outDir, `${name}.html`), html(name, page, hasCss))
  }
}

/** Serves `root` on 127.0.0.1 (any free port); answers the server and its origin. */
export async function serveStatic(root) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname))
    if (path.includes('..')) {
      res.writeHead(400).end()
      return
    }
    try {
      const body = await readFile(join(root, path === '/' ? 'index.html' : path))
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
      res.end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  // `localhost`, not 127.0.0.1: another origin than tollgate's and the store's.
  return { server, origin: `http://localhost:${server.address().port}` }
}
