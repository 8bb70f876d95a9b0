// The demo page: adapter panel, interactive run, training and benchmark, all on the device from requestGpu(),
// and the TensorFlow.js panel, on tfjs's webgpu backend.
import { requestGpu } from '../src/index.js';
import { describeEnvironment } from '../bench/index.js';
import { renderAdapterPanel } from './adapter-panel.js';
import { setUpBenchmark } from './bench-panel.js';
import { pageClock } from './clock.js';
import { browserName, byId } from './dom.js';
import { renderSnippets } from './code-snippets.js';
import { setUpInteractive } from './interactive.js';
import { setUpTfjsTraining } from './tfjs-panel.js';
import { setUpTraining } from './training-panel.js';

renderSnippets();
const adapterBody = byId('adapter-body', HTMLDivElement);
const clock = pageClock();
const clockNote = byId('clock-note', HTMLParagraphElement);
clockNote.textContent = clock.description;
clockNote.dataset.crossOriginIsolated = String(clock.crossOriginIsolated);
clockNote.classList.toggle('warn', !clock.crossOriginIsolated);
try {
  const gpu = await requestGpu();
  const environment = describeEnvironment(gpu, browserName());
  renderAdapterPanel(adapterBody, environment);
  setUpInteractive(gpu, clock, environment.adapter.emulated);
  setUpTraining(gpu, environment.adapter);
  setUpTfjsTraining(environment.adapter.emulated);
  setUpBenchmark(gpu, environment, clock);
  gpu.lost.then((error) => {
    adapterBody.prepend(`${error.message}. Reload the page to get a new device.`);
    console.error(error);
  });
} catch (error) {
  adapterBody.textContent = `No WebGPU here: ${error instanceof Error ? error.message : String(error)}. ` +
    'Use a browser with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).';
  console.error(error);
}
