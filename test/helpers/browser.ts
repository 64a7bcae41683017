import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH names another. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the browser tests leave screenshots for review (git-ignored, never committed). */
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'browser');

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (its own cookies and storage) on `baseUrl`, clipboard allowed. */
  context(baseUrl: string): Promise<BrowserContext>;
  /** Every request a page tried to make to another origin (refused); the console must make none. */
  external: string[];
  /** Every Content-Security-Policy violation a page reported; the console must cause none. */
  cspViolations: string[];
  close(): Promise<void>;
}

/**
 * Launches headless chromium. Playwright gives every launch a fresh temporary profile (user-data
 * dir) and removes it on close; each context is isolated (cookies, storage) within it.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`);
  if (!existsSync(path.join(ROOT, 'web', 'dist', 'index.html')))
    throw new Error('web/dist is not built: npm run build:web (npm run test:browser does)');
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const external: string[] = [];
  const cspViolations: string[] = [];
  return {
    browser,
    external,
    cspViolations,
    async context(baseUrl) {
      const ctx = await browser.newContext({
        baseURL: baseUrl,
        viewport: { width: 1400, height: 900 },
        locale: 'en-US',
      });
      await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
      ctx.setDefaultTimeout(15_000);
      ctx.on('console', (msg) => {
        if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text()))
          cspViolations.push(msg.text());
      });
      // Anything but the gateway under test is refused: the console must need nothing from outside.
      const origin = new URL(baseUrl).origin;
      await ctx.route(
        (url) => url.origin !== origin,
        (route) => {
          external.push(route.request().url());
          return route.abort();
        },
      );
      return ctx;
    },
    async close() {
      await browser.close();
    },
  };
}

/** Saves a full-page screenshot as test-artifacts/browser/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Signs in through the sign-in page with a username and password. */
export async function signInWithPassword(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').waitFor();
}
