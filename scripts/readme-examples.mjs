// The documentation's TypeScript examples: every ```ts block of README.md and of the guides docs/*.md (not
// the generated docs/api, whose examples come from the TSDoc comments: test/unit/api-docs.test.ts
// type-checks those against the sources), extracted so that a test can type-check them against the packed package and run
// those that run on Dawn (test/e2e/package.test.ts). The blocks are self-contained: each declares every
// name it uses, so they need no hidden preamble. Node built-ins only.
//
// `node scripts/readme-examples.mjs DIR` writes them to DIR/<name>.mts (readme-<line>.mts for README.md,
// docs-<guide>-<line>.mts for docs/<guide>.md; the line of the block's opening fence) and prints the paths.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const README_PATH = join(ROOT, 'README.md');

/** README.md and docs/*.md, relative to the repository root, README first. */
export function documentationFiles() {
  const guides = readdirSync(join(ROOT, 'docs'), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.md'))
    .map((e) => `docs/${e.name}`)
    .sort();
  return ['README.md', ...guides];
}

/**
 * The ```ts (or ```typescript) blocks of `markdown`, each with the 1-based line of its opening fence and
 * `file`, the name its errors and example files are given.
 */
export function readmeTsBlocks(markdown = readFileSync(README_PATH, 'utf8'), file = 'README.md') {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j].startsWith(indent + fence); j++) body.push(lines[j].slice(indent.length));
    if (j === lines.length) throw new Error(`${file}:${i + 1}: unclosed code block`);
    blocks.push({ file, line: i + 1, code: body.join('\n') + '\n' });
    i = j;
  }
  return blocks;
}

/** The ```ts blocks of README.md and every docs/*.md guide. */
export function documentationTsBlocks() {
  return documentationFiles().flatMap((file) => readmeTsBlocks(readFileSync(join(ROOT, file), 'utf8'), file));
}

/** The example file name of a block: readme-<line>.mts, or docs-<guide>-<line>.mts. */
export function exampleName({ file, line }) {
  const stem = file === 'README.md' ? 'readme' : file.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-');
  return `${stem}-${line}.mts`;
}

/** Writes each block to `dir`/<exampleName>; returns the file names. */
export function writeReadmeExamples(dir, blocks = documentationTsBlocks()) {
  mkdirSync(dir, { recursive: true });
  return blocks.map((block) => {
    const name = exampleName(block);
    writeFileSync(join(dir, name), `// ${block.file}:${block.line}\n${block.code}`);
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
