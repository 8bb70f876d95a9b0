// lavapipe, Mesa 25's CPU Vulkan driver: the adapter on which Dawn (the `webgpu` package) offers
// shader-f16 without a GPU, so the test suite's native f16 kernels run there (test/dawn/; Chromium's
// SwiftShader has no shader-f16). scripts/install-lavapipe.sh puts it in .lavapipe/ (git-ignored);
// LAVAPIPE_ICD names another ICD file, e.g. a system Mesa 25's.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const LAVAPIPE_INSTALLER = join(root, 'scripts', 'install-lavapipe.sh');
export const LAVAPIPE_ICD = process.env.LAVAPIPE_ICD ?? join(root, '.lavapipe', 'lvp_icd.json');

/** What is missing and how to get it, for setup.mjs and the test that needs it. */
export const LAVAPIPE_MISSING =
  `no lavapipe ICD at ${LAVAPIPE_ICD}: the native f16 tests (test/dawn/) need Mesa 25's lavapipe. ` +
  'On Debian 12 run `sudo bash scripts/install-lavapipe.sh` (`npm test` runs it as root); elsewhere install ' +
  "Mesa 25 or later's Vulkan drivers (Debian/Ubuntu: mesa-vulkan-drivers) and set LAVAPIPE_ICD to its " +
  'lvp_icd.*.json (e.g. /usr/share/vulkan/icd.d/lvp_icd.x86_64.json).';
