// Small DOM helpers shared by the demo's panels.

/** The element with `id`, checked to be of `type` (a missing or wrong element is a bug in index.html). */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`demo: #${id} is missing or not a ${type.name}`);
  return element;
}

/** Creates an element with text content and optional class. */
export function make<K extends keyof HTMLElementTagNameMap>(tag: K, text = '', className = ''): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (text) element.textContent = text;
  if (className) element.className = className;
  return element;
}

/** A column header: its text, and optionally a tooltip that says in full what the column holds. */
export type Header = string | { readonly text: string; readonly title: string };

/** Replaces a table's content with a header row and body rows of text cells. */
export function fillTable(table: HTMLTableElement, headers: readonly Header[], rows: readonly (readonly (string | HTMLTableCellElement)[])[]): void {
  const head = make('thead');
  const headRow = make('tr');
  for (const header of headers) {
    // The text in a span of limited width: a long header wraps onto lines of its own, a short one stays whole.
    const th = make('th');
    th.append(make('span', typeof header === 'string' ? header : header.text));
    th.scope = 'col';
    if (typeof header !== 'string') th.title = header.title;
    headRow.append(th);
  }
  head.append(headRow);
  const body = make('tbody');
  for (const cells of rows) {
    const row = make('tr');
    for (const cell of cells) row.append(typeof cell === 'string' ? make('td', cell) : cell);
    body.append(row);
  }
  table.replaceChildren(head, body);
}

/** The browser's name and version from the user agent, e.g. "HeadlessChrome 156.0.7350.0". */
export function browserName(): string {
  const match = /(HeadlessChrome|Edg|Chrome|Chromium|Firefox|Version)\/([\d.]+)/.exec(navigator.userAgent);
  if (!match) return navigator.userAgent;
  const name = match[1] === 'Version' ? 'Safari' : match[1] === 'Edg' ? 'Edge' : match[1]!;
  return `${name} ${match[2]!} (${navigator.platform || 'unknown platform'})`;
}

/** A table cell showing pass or fail. */
export function verdictCell(passed: boolean): HTMLTableCellElement {
  return make('td', passed ? 'pass' : 'FAIL', passed ? 'ok' : 'not-ok');
}

/** Bytes in binary units: 512 B, 1.5 KiB, 1.00 GiB, 364 TiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value >= 100 ? value.toFixed(0) : value.toFixed(2)} ${units[unit]!}`;
}

/** An integer with thousands separators: 536,870,912. */
export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}
