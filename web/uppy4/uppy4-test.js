// The Uppy 4.x test page: uppy4.js's wiring, unchanged, with the runner's hooks. Both live in
// web/uppy4/ so that their imports resolve to this folder's @uppy/core 4.x.
import { installHarness } from '../pages/harness.js'
import { createUppy } from './uppy4.js'

installHarness(createUppy)
