// The Uppy 6.x test page: uppy6.js's wiring, unchanged, with the runner's hooks.
import { installHarness } from './harness.js'
import { createUppy } from './uppy6.js'

installHarness(({ token, ...options }) => createUppy({ ...options, getToken: async () => token }))
