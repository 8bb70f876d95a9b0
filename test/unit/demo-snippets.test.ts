// The demo's code snippets (demo/snippets/, shown beside each panel): every one has a shown region, and
// every panel of the page names a snippet that exists. tsc type-checks the snippets themselves.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { shownRegion, SNIPPETS } from '../../demo/code-snippets.js';

const page = readFileSync(join(import.meta.dirname, '..', '..', 'demo', 'index.html'), 'utf8');

it('shows the region between the markers, without them', () => {
  for (const [name, source] of Object.entries(SNIPPETS)) {
    const shown = shownRegion(source, name);
    expect(shown, name).toMatch(/^import /);
    expect(shown, name).not.toMatch(/#(end)?region/);
  }
});

it('refuses a snippet without a shown region', () => {
  expect(() => shownRegion('const a = 1;\n', 'empty')).toThrow(/demo\/snippets\/empty\.ts has no "\/\/ #region shown"/);
});

it('gives every panel of the page one snippet, and every snippet a panel', () => {
  const panels = [...page.matchAll(/<section class="panel" id="([\w-]+)"[\s\S]*?<\/section>/g)];
  const named = panels.map(([section, id]) => [id, [...section.matchAll(/data-snippet="(\w+)"/g)].map((m) => m[1])] as const);
  for (const [id, names] of named) expect(names, id).toHaveLength(1);
  expect(named.map(([, names]) => names[0]).sort()).toEqual(Object.keys(SNIPPETS).sort());
});
