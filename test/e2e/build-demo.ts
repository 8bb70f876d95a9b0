// The end-to-end project's global set-up: builds the demo page (demo/ -> demo-dist/) once, before any test
// file serves it, so that files running in parallel never build into the same folder at once.
import { buildDemo } from '../../scripts/demo-browser.mjs';

export default async function setup(): Promise<void> {
  await buildDemo();
}
