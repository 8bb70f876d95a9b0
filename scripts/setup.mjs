// First step of `npm test` and `npm start`: installs what a fresh clone lacks, the npm packages, the
// system Chromium that runs the WebGPU tests, the Vulkan loader Dawn needs and lavapipe, the driver the
// native f16 tests run on, or says exactly what is missing. Node built-ins only.
// `--for-tests` (npm test): lavapipe too, which only the tests use; one that cannot be installed here is an error.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_PATH } from './chromium.mjs';
import { LAVAPIPE_ICD, LAVAPIPE_INSTALLER, LAVAPIPE_MISSING } from './lavapipe.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const missing = Object.keys(pkg.devDependencies ?? {}).filter(
  (name) => !existsSync(join(root, 'node_modules', name, 'package.json')),
);
if (missing.length > 0) {
  console.log(`setup: installing npm packages (missing: ${missing.join(', ')})`);
  run('npm', [existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund']);
}

// Debian packages: Chromium runs the WebGPU tests; the Vulkan loader (libvulkan1) lets Dawn (the `webgpu`
// package, test/e2e/package.test.ts and `npm run bench:node`) reach a driver, here SwiftShader's ICD that
// the chromium package ships.
const hasVulkanLoader = () =>
  ['x86_64-linux-gnu', 'aarch64-linux-gnu', ''].some((dir) => existsSync(join('/usr/lib', dir, 'libvulkan.so.1')));
const packages = [
  ...(existsSync(CHROMIUM_PATH) ? [] : ['chromium']),
  ...(process.platform !== 'linux' || hasVulkanLoader() ? [] : ['libvulkan1']),
];
if (packages.length > 0) {
  if (process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    console.log(`setup: installing Debian's ${packages.join(' and ')} (WebGPU tests in headless Chromium; Dawn in Node.js needs a Vulkan loader)`);
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', ...packages]);
  } else if (packages.includes('chromium')) {
    console.error(
      `setup: no Chromium at ${CHROMIUM_PATH}. Install Debian's 'chromium' package (sudo apt-get install chromium) ` +
        'or set CHROMIUM_PATH to a Chromium with WebGPU; Playwright cannot download its own browser here.' +
        (packages.includes('libvulkan1') ? " Dawn's tests also need the Vulkan loader: sudo apt-get install libvulkan1." : ''),
    );
    process.exit(1);
  } else {
    console.error(
      "setup: no Vulkan loader (libvulkan.so.1): Dawn (the webgpu package) finds no adapter without it, so the package " +
        "test fails. Install Debian's 'libvulkan1' package (sudo apt-get install libvulkan1).",
    );
    process.exit(1);
  }
}

// lavapipe (scripts/lavapipe.mjs): the one adapter without a GPU on which Dawn offers shader-f16, so the
// native f16 kernels run in `npm test` (test/dawn/). Installed for the tests only, into .lavapipe/ as root on
// Debian 12 (scripts/install-lavapipe.sh, about 20 s once); `npm start` and the benchmarks do without it.
if (process.argv.includes('--for-tests') && !existsSync(LAVAPIPE_ICD)) {
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const bookworm = /^VERSION_CODENAME=bookworm$/m.test(osRelease);
  if (process.platform === 'linux' && process.getuid?.() === 0 && bookworm && !process.env.LAVAPIPE_ICD) {
    console.log("setup: installing lavapipe (Mesa 25's CPU Vulkan driver from bookworm-backports) into .lavapipe/ for the native f16 tests");
    run('bash', [LAVAPIPE_INSTALLER]);
  } else {
    console.error(`setup: ${LAVAPIPE_MISSING}`);
    process.exit(1);
  }
}
