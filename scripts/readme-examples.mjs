// The README's TypeScript examples: every ```ts block of README.md, extracted so that a test can type-check
// it against the packed package (test/e2e/package.test.ts). The blocks are self-contained: each declares
// every name it uses, so they need no hidden preamble. Node built-ins only.
//
// `node scripts/readme-examples.mjs DIR` writes them to DIR/readme-<line>.mts (the line of the block's
// opening fence in README.md) and prints the file names.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const README_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');

/** The ```ts (or ```typescript) blocks of `markdown`, each with the 1-based line of its opening fence. */
export function readmeTsBlocks(markdown = readFileSync(README_PATH, 'utf8')) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j].startsWith(indent + fence); j++) body.push(lines[j].slice(indent.length));
    if (j === lines.length) throw new Error(`README.md:${i + 1}: unclosed code block`);
    blocks.push({ line: i + 1, code: body.join('\n') + '\n' });
    i = j;
  }
  return blocks;
}

/** Writes each block to `dir`/readme-<line>.mts; returns the file names. */
export function writeReadmeExamples(dir, blocks = readmeTsBlocks()) {
  mkdirSync(dir, { recursive: true });
  return blocks.map(({ line, code }) => {
    const name = `readme-${line}.mts`;
    writeFileSync(join(dir, name), `// README.md:${line}\n${code}`);
    return name;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/readme-examples.mjs DIR');
    process.exit(2);
  }
  for (const name of writeReadmeExamples(dir)) console.log(join(dir, name));
}
