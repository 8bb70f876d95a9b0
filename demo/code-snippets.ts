// Each panel's code snippet: the library calls behind what the panel shows. The snippets are TypeScript
// files of their own (demo/snippets/), type-checked by `tsc --noEmit` against the library's source like
// any other file; the page shows the part between `// #region shown` and `// #endregion shown`.
import adapter from './snippets/adapter.ts?raw';
import bench from './snippets/bench.ts?raw';
import interactive from './snippets/interactive.ts?raw';
import tfjs from './snippets/tfjs.ts?raw';
import training from './snippets/training.ts?raw';

/** The snippets by name: an element with `data-snippet="name"` shows one. */
export const SNIPPETS = { adapter, interactive, training, tfjs, bench } as const;
export type SnippetName = keyof typeof SNIPPETS;

const REGION = /^\/\/ #region shown\n([\s\S]*?)^\/\/ #endregion shown$/m;

/** The shown region of a snippet's source; throws if the file has none (a snippet must show something). */
export function shownRegion(source: string, name: string): string {
  const match = REGION.exec(source.replace(/\r\n/g, '\n'));
  if (!match?.[1]?.trim()) throw new Error(`demo/snippets/${name}.ts has no "// #region shown" ... "// #endregion shown" block`);
  return match[1].trimEnd();
}

/** Fills every `[data-snippet]` element with its snippet's shown region. */
export function renderSnippets(root: ParentNode = document): void {
  for (const element of root.querySelectorAll<HTMLElement>('[data-snippet]')) {
    const name = element.dataset.snippet ?? '';
    if (!(name in SNIPPETS)) throw new Error(`no snippet named "${name}" (demo/snippets/)`);
    element.textContent = shownRegion(SNIPPETS[name as SnippetName], name);
  }
}
