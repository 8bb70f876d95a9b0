// The adapter panel: what WebGPU device the numbers on this page come from.
import type { Environment } from '../bench/index.js';
import { formatBytes, make } from './dom.js';

const FEATURES: readonly [name: string, key: keyof Environment['features']][] = [
  ['subgroups', 'subgroups'],
  ['shader-f16', 'shaderF16'],
  ['timestamp-query', 'timestampQuery'],
];

function definitionList(entries: readonly (readonly [string | Node, string | Node])[]): HTMLDListElement {
  const list = make('dl');
  for (const [term, value] of entries) {
    const dt = make('dt');
    const dd = make('dd');
    dt.append(term);
    dd.append(value);
    list.append(dt, dd);
  }
  return list;
}

/** A camel-case name with break opportunities before its humps: maxComputeWorkgroups<wbr>PerDimension. */
function breakableName(name: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  name.split(/(?=[A-Z])/).forEach((part, i) => {
    if (i > 0) fragment.append(make('wbr'));
    fragment.append(part);
  });
  return fragment;
}

export function renderAdapterPanel(container: HTMLElement, environment: Environment): void {
  const { adapter, features, limits } = environment;
  const chips = make('span');
  for (const [name, key] of FEATURES) chips.append(make('span', name, `chip ${features[key] ? 'on' : 'off'}`));
  const identity = definitionList([
    ['vendor', adapter.vendor || '(not reported)'],
    ['architecture', adapter.architecture || '(not reported)'],
    ['device', adapter.device || '(not reported)'],
    ['description', adapter.description || '(not reported)'],
    ['fallback adapter', adapter.isFallbackAdapter ? 'yes' : 'no'],
    ['kind', adapter.emulated ? 'software (CPU emulation, not a GPU timing)' : 'hardware GPU'],
    ['browser', environment.runtime],
    ['features', chips],
  ]);
  const limitList = definitionList(
    Object.entries(limits).map(([name, value]) => [breakableName(name), /Size$/.test(name) && value >= 2 ** 20 ? formatBytes(value) : String(value)] as const),
  );
  const grid = make('div', '', 'adapter-grid');
  grid.append(identity, limitList);
  container.replaceChildren(grid);
  container.classList.remove('muted');
}
