// The API reference (docs/api) is generated from the TSDoc comments by TypeDoc with typedoc.json's
// settings (`npm run docs`). This regenerates it into a temporary folder and fails on any TypeDoc warning
// (an undocumented public symbol or member, a type the API names but does not export, a broken {@link}),
// and when the committed docs/api differs from what the sources give.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Application, Logger, LogLevel, TSConfigReader, TypeDocReader } from 'typedoc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const COMMITTED = join(ROOT, 'docs/api');

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
    const project = await app.convert();
    if (!project) throw new Error(`TypeDoc could not convert the sources:\n${logger.problems.join('\n')}`);
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
});
