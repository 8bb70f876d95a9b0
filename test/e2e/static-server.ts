// A tiny static file server for the built demo under a sub-path, as GitHub Pages serves a project site
// (https://user.github.io/webgpu-batchnorm/): no COOP/COEP headers, so the page is not cross-origin
// isolated, and "/base" redirects to "/base/".
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** Serves `root` at http://127.0.0.1:<port>`base` (base like "/webgpu-batchnorm/"); `requests` logs each path and status. */
export async function serveStatic(root: string, base: string) {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const reply = (status: number, headers: Record<string, string> = {}) => {
      requests.push(`${status} ${path}`);
      response.writeHead(status, headers);
    };
    if (path === base.slice(0, -1)) {
      reply(301, { Location: base });
      response.end();
      return;
    }
    if (!path.startsWith(base)) {
      reply(404);
      response.end('not found');
      return;
    }
    const relative = path.slice(base.length) || 'index.html';
    const file = normalize(join(root, relative.endsWith('/') ? `${relative}index.html` : relative));
    if (!file.startsWith(root + sep)) {
      reply(403);
      response.end();
      return;
    }
    stat(file).then(
      (info) => {
        if (!info.isFile()) throw new Error('not a file');
        reply(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': String(info.size) });
        createReadStream(file).pipe(response);
      },
      () => {
        reply(404);
        response.end('not found');
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}${base}`,
    requests,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
