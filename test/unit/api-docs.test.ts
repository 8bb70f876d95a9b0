// The API reference (docs/api) is generated from the TSDoc comments by TypeDoc with typedoc.json's
// settings (`npm run docs`). This regenerates it into a temporary folder and fails on any TypeDoc warning
// (an undocumented public symbol or member, a type the API names but does not export, a broken {@link}),
// and when the committed docs/api differs from what the sources give. Every ```ts block of those comments
// (the @example ones and any other) is type-checked against the sources as a user's module would be,
// importing the package's entries by name.
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import {
  Application,
  Logger,
  LogLevel,
  ReflectionKind,
  TSConfigReader,
  TypeDocReader,
  type Comment,
  type ProjectReflection,
} from 'typedoc';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const COMMITTED = join(ROOT, 'docs/api');

/** The pages a user opens first: each must show an example. */
const MUST_HAVE_EXAMPLES = [
  'webgpu-batchnorm.batchNorm',
  'webgpu-batchnorm.batchNormBackward',
  'webgpu-batchnorm.Tensor',
  'webgpu-batchnorm.requestGpu',
  'webgpu-batchnorm.BatchNorm',
  'webgpu-batchnorm.batchNormStats',
  'webgpu-batchnorm.batchNormGatherStats',
  'webgpu-batchnorm.batchNormElemt',
  'webgpu-batchnorm.batchNormBackwardReduce',
  'webgpu-batchnorm.batchNormBackwardElemt',
  'webgpu-batchnorm/dawn.requestDawnGpu',
  'webgpu-batchnorm/tfjs.BatchNormalization',
  'webgpu-batchnorm/tfjs.batchNormalization',
];

/** The most characters an item's summary in a module's index may have (links and code marks not counted): one line. */
const SUMMARY_LENGTH = 120;

/**
 * Each row of the module indexes in `dir` (`| [name](page) | summary |`, typedoc.json's `indexFormat`), as
 * 'module: name' and the summary as a reader sees it: link targets and code marks dropped.
 */
async function indexSummaries(dir: string): Promise<Map<string, string>> {
  const summaries = new Map<string, string>();
  for (const file of (await filesUnder(dir)).filter((f) => f.endsWith('README.md') && f !== 'README.md')) {
    const module = file.replace(/\/?README\.md$/, '');
    for (const [, name, summary] of (await readFile(join(dir, file), 'utf8')).matchAll(/^\| \[(\w+)\]\([^)]*\) \| (.*) \|$/gm)) {
      summaries.set(`${module}: ${name!}`, summary!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replaceAll('`', ''));
    }
  }
  return summaries;
}

/** A ```ts block of a comment: the item it documents (module.name) and its code. */
interface Example {
  readonly item: string;
  readonly code: string;
}

/** The ```ts (or ```typescript) blocks of every comment in the project: summaries, @example and other tags. */
function examplesOf(project: ProjectReflection): Example[] {
  const examples: Example[] = [];
  const add = (item: string, comment: Comment | undefined) => {
    const parts = [...(comment?.summary ?? []), ...(comment?.blockTags.flatMap((tag) => tag.content) ?? [])];
    for (const part of parts) {
      const block = part.kind === 'code' ? /^```(?:ts|typescript)\n([\s\S]*?)\n?```$/.exec(part.text) : null;
      if (block) examples.push({ item, code: `${block[1]!}\n` });
    }
  };
  for (const reflection of project.getReflectionsByKind(ReflectionKind.All)) {
    // A function's or method's comment is its signature's: named by the function or method.
    const documented = reflection.kindOf(ReflectionKind.SomeSignature) ? reflection.parent! : reflection;
    add(documented.getFullName(), reflection.comment);
  }
  return examples;
}

/**
 * The package's entries by name (`webgpu-batchnorm`, `webgpu-batchnorm/dawn`, ...), mapped to their
 * sources: package.json's `exports` name them, and dist/<entry>.js is built from src/<entry>.ts.
 */
function entryPaths(): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { import?: string }> };
  return Object.fromEntries(
    Object.entries(pkg.exports)
      .filter(([, target]) => target.import)
      .map(([subpath, target]) => [pkg.name + subpath.slice(1), [join(ROOT, 'src', `${basename(target.import!, '.js')}.ts`)]]),
  );
}

/**
 * Type-checks each example as a module of its own (under the repository's tsconfig: strict, with WebGPU's
 * and Node's types), resolving the package's entries to the sources; returns the errors by example.
 */
function typeCheck(examples: readonly Example[]): Map<number, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (!config) throw new Error('could not read tsconfig.json');
  const options: ts.CompilerOptions = { ...config.options, paths: entryPaths(), noEmit: true };
  // Beside the sources, so that node_modules resolves as it does for them; never written to disk.
  const fileOf = (i: number) => join(ROOT, 'test', 'unit', `api-example-${i}.ts`);
  const files = new Map(examples.map((example, i) => [fileOf(i), example.code]));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile: read } = host;
  host.fileExists = (file) => files.has(file) || fileExists.call(host, file);
  host.readFile = (file) => files.get(file) ?? read.call(host, file);
  host.getSourceFile = (file, language, ...rest) => {
    const code = files.get(file);
    return code === undefined ? getSourceFile.call(host, file, language, ...rest) : ts.createSourceFile(file, code, language, true);
  };
  // The project's ambient declarations (the `*.wgsl?raw` shim the sources' imports need) beside them.
  const ambient = config.fileNames.filter((file) => file.endsWith('.d.ts'));
  const program = ts.createProgram([...files.keys(), ...ambient], options, host);
  const errors = new Map<number, string[]>();
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const index = examples.findIndex((_, i) => diagnostic.file?.fileName === fileOf(i));
    if (index < 0) throw new Error(`outside the examples: ${ts.formatDiagnostic(diagnostic, host)}`);
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const message = `line ${line + 1}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
    errors.set(index, [...(errors.get(index) ?? []), message]);
  }
  return errors;
}

/** Keeps TypeDoc's warnings and errors, so that a failure lists them. */
class CollectingLogger extends Logger {
  readonly problems: string[] = [];
  override log(message: string, level: LogLevel): void {
    if (level >= LogLevel.Warn) this.problems.push(message);
  }
}

/** Every file under `dir`, as paths relative to it, sorted; none when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('API reference (docs/api)', () => {
  let out: string;
  let logger: CollectingLogger;
  let project: ProjectReflection;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'webgpu-batchnorm-api-'));
    logger = new CollectingLogger();
    const app = await Application.bootstrapWithPlugins(
      // tsc --noEmit (npm test's first step) type-checks the sources; TypeDoc need not again.
      { options: join(ROOT, 'typedoc.json'), out, skipErrorChecking: true, logLevel: LogLevel.Warn },
      [new TypeDocReader(), new TSConfigReader()],
    );
    // Problems with the options themselves went to the console logger of bootstrap.
    if (app.logger.hasErrors() || app.logger.hasWarnings()) throw new Error('TypeDoc could not read typedoc.json (see its messages above)');
    app.logger = logger;
    const converted = await app.convert();
    if (!converted) throw new Error(`TypeDoc could not convert the sources:\n${logger.problems.join('\n')}`);
    project = converted;
    app.validate(project);
    await app.generateOutputs(project);
  }, 120_000);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('documents every public symbol, exports every type it names, and has no broken link', () => {
    expect(logger.problems, `TypeDoc warnings (fix the TSDoc, then run npm run docs):\n${logger.problems.join('\n')}`).toEqual([]);
  });

  it('is up to date with the sources (else: run npm run docs and commit docs/api)', async () => {
    const generated = await filesUnder(out);
    const committed = await filesUnder(COMMITTED);
    expect(generated.length, 'TypeDoc wrote no files').toBeGreaterThan(0);
    const stale = (what: string) => `docs/api is stale: run npm run docs and commit docs/api (${what})`;
    expect(committed, stale('files added or removed')).toEqual(generated);
    const differing: string[] = [];
    for (const file of generated) {
      const [now, then] = await Promise.all([readFile(join(out, file), 'utf8'), readFile(join(COMMITTED, file), 'utf8')]);
      if (now !== then) differing.push(file);
    }
    expect(differing, stale('files that differ')).toEqual([]);
  });

  it('gives every item of a module index a summary of one line', async () => {
    const summaries = await indexSummaries(out);
    expect(summaries.size, 'no index rows found: is indexFormat still "table"?').toBeGreaterThan(90);
    const long = [...summaries].filter(([, summary]) => summary.length > SUMMARY_LENGTH);
    expect(long.map(([item, summary]) => `${item} (${summary.length}): ${summary}`), 'summaries over one line: end the first paragraph of the comment sooner').toEqual([]);
    const missing = [...summaries].filter(([, summary]) => summary === '-').map(([item]) => item);
    expect(missing, 'items without a summary').toEqual([]);
  });

  it('shows an example on the pages a user opens first', () => {
    const documented = new Set(examplesOf(project).map((e) => e.item));
    expect(MUST_HAVE_EXAMPLES.filter((item) => !documented.has(item)), 'items without an example').toEqual([]);
  });

  it('type-checks every TypeScript example against the sources, importing the package by name', () => {
    const examples = examplesOf(project);
    const errors = typeCheck(examples);
    const report = (i: number) => `${examples[i]!.item}:\n  ${errors.get(i)!.join('\n  ')}\n${examples[i]!.code}`;
    expect([...errors.keys()].map(report), 'examples that do not compile').toEqual([]);
  }, 120_000);
});
