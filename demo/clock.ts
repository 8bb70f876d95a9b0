// The page's clock: performance.now() is fine-grained (about 5 us in Chromium) only in a cross-origin
// isolated page, which needs COOP/COEP headers from the host (vite's dev and preview servers send them;
// static hosts such as GitHub Pages cannot). Elsewhere browsers coarsen it (about 100 us), and the page
// says so next to the timings it takes with it.

export interface PageClock {
  readonly crossOriginIsolated: boolean;
  /** The smallest step of performance.now() seen, in ms. */
  readonly stepMs: number;
  /** One sentence for the page. */
  readonly description: string;
}

/** The smallest nonzero difference between successive performance.now() readings (a few ms at most). */
function measureStep(): number {
  let step = Infinity;
  let last = performance.now();
  const deadline = last + 5;
  let seen = 0;
  while (seen < 20) {
    const now = performance.now();
    if (now !== last) {
      step = Math.min(step, now - last);
      seen++;
      last = now;
    }
    if (now > deadline) break;
  }
  return step;
}

export function formatStep(ms: number): string {
  if (!Number.isFinite(ms)) return 'an unknown step';
  return ms >= 0.1 ? `${Number(ms.toPrecision(2))} ms` : `${Number((ms * 1000).toPrecision(2))} µs`;
}

export function pageClock(): PageClock {
  const isolated = globalThis.crossOriginIsolated === true;
  const stepMs = measureStep();
  const step = formatStep(stepMs);
  const description = isolated
    ? `Page clock: this page is cross-origin isolated, so performance.now() is fine-grained (steps of ${step} measured here).`
    : `Page clock: this page is not cross-origin isolated (its host sends no COOP/COEP headers), so the browser ` +
      `coarsens performance.now() (steps of ${step} measured here): host-side times on this page (the interactive ` +
      `run's time, the CPU loops, first-call and host-call times) are only that precise. GPU timestamps, where the ` +
      `device has them, are not affected.`;
  return { crossOriginIsolated: isolated, stepMs, description };
}
