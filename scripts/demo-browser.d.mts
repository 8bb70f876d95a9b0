import type { Browser } from 'playwright';

export function buildDemo(): Promise<void>;
export function serveDemo(): Promise<{ url: string; close: () => Promise<void> }>;
export function launchChromium(): Promise<Browser>;
