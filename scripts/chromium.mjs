// The Chromium that runs everything WebGPU here (the GPU tests, the e2e test, `npm run bench`): the
// system one, because Playwright cannot download its own browser on these machines (scripts/setup.mjs
// installs Debian's package). On a machine without a GPU its WebGPU adapter is SwiftShader.
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox', // tests run as root in CI
  // This machine's network is closed: no background connections to time out on.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
