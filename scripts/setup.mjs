// First step of `npm test` and `npm start`: installs what a fresh clone lacks, the npm packages and the
// system Chromium that runs the WebGPU tests, or says exactly what is missing. Node built-ins only.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_PATH } from './chromium.mjs';

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

if (!existsSync(CHROMIUM_PATH)) {
  if (process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    console.log("setup: installing Debian's chromium package (WebGPU tests run in headless Chromium)");
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', 'chromium']);
  } else {
    console.error(
      `setup: no Chromium at ${CHROMIUM_PATH}. Install Debian's 'chromium' package (sudo apt-get install chromium) ` +
        'or set CHROMIUM_PATH to a Chromium with WebGPU; Playwright cannot download its own browser here.',
    );
    process.exit(1);
  }
}
