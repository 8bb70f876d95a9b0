import type { Browser } from 'playwright';

export const CHROMIUM_PATH: string;
export const CHROMIUM_ARGS: readonly string[];
export function buildDemo(): Promise<void>;
export function serveDemo(): Promise<{ url: string; close: () => Promise<void> }>;
export function launchChromium(): Promise<Browser>;
