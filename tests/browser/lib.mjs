// Helpers of the browser tests (tests/browser/*.mjs).
//
// Why this exists: the web CRM is only proven in a real browser (RTL
// layout, computed text direction, downloads, drag and drop, SSE). These
// tests drive Debian's /usr/bin/chromium headless through playwright-core
// (installed in web/node_modules; it never downloads a browser). Every
// wait is bounded and stretched by MERKAZIA_TEST_TIMEOUT_MULT; every step
// leaves a screenshot in the artefact directory; the browser is always
// closed, so the e2e runner finds no process left behind.
//
// Environment (set by the e2e scenario that starts the stack):
//   MERKAZIA_BROWSER_BASE       http://127.0.0.1:PORT of the gateway
//   MERKAZIA_BROWSER_ARTEFACTS  directory for screenshots and downloads
//   MERKAZIA_BROWSER_CHROMIUM   the browser (default /usr/bin/chromium)
//   MERKAZIA_TEST_TIMEOUT_MULT  stretches every timeout (default 1)
// Output: one line per step ("ok: …", "note: …"), "FAIL: …" and exit 1 on
// a failure, "skip: …" and exit 0 when chromium is absent.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mult = Math.max(Number(process.env.MERKAZIA_TEST_TIMEOUT_MULT) || 1, 0.1);

/** Milliseconds for a wait of `seconds`, stretched by the multiplier. */
export function T(seconds) {
  return Math.round(seconds * 1000 * mult);
}

export const BASE = process.env.MERKAZIA_BROWSER_BASE || '';
export const ARTEFACTS = process.env.MERKAZIA_BROWSER_ARTEFACTS || fs.mkdtempSync('/tmp/mzb.');
const CHROMIUM = process.env.MERKAZIA_BROWSER_CHROMIUM || '/usr/bin/chromium';

export class Fail extends Error {}

export function check(cond, msg) {
  if (!cond) throw new Fail(msg);
}

export function say(msg) {
  process.stdout.write(`${msg}\n`);
}

let shotNo = 0;

/** A full-page screenshot named NN-name.png in the artefact directory. */
export async function shot(page, name) {
  shotNo += 1;
  const file = path.join(ARTEFACTS, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true, timeout: T(10) });
  } catch (e) {
    say(`note: screenshot ${name} failed: ${e.message.split('\n')[0]}`);
  }
  return file;
}

/** Load playwright-core from web/node_modules, or exit with a reason. */
function loadPlaywright() {
  const req = createRequire(path.join(REPO, 'web', 'package.json'));
  try {
    return req('playwright-core');
  } catch (e) {
    throw new Fail(`playwright-core is not installed in web/node_modules (run make web): ${e.message}`);
  }
}

/**
 * Run fn(browser) with a headless chromium; print ok/FAIL; exit. When
 * chromium is truly absent, print "skip:" and exit 0 (tools/deps installs
 * it, so this only happens on a machine that skipped make deps).
 */
export async function run(fn) {
  if (!fs.existsSync(CHROMIUM)) {
    say(`skip: ${CHROMIUM} is absent (tools/deps installs Debian's chromium); the browser tests did not run`);
    process.exit(0);
  }
  fs.mkdirSync(ARTEFACTS, { recursive: true });
  let browser = null;
  let code = 0;
  const killer = setTimeout(
    () => {
      say('FAIL: the browser test ran over its time limit');
      const done = () => process.exit(1);
      if (browser) browser.close().then(done, done);
      else done();
      setTimeout(done, 5000).unref();
    },
    T(85),
  );
  try {
    check(BASE, 'MERKAZIA_BROWSER_BASE is not set');
    const { chromium } = loadPlaywright();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: T(30),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    });
    say(`chromium ${browser.version()}`);
    await fn(browser);
  } catch (e) {
    code = 1;
    say(e instanceof Fail ? `FAIL: ${e.message}` : `FAIL: ${e.stack || e}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    clearTimeout(killer);
  }
  say(`artefacts: ${ARTEFACTS}`);
  process.exit(code);
}

/** A new context (own cookies, Hebrew locale, Israel time, downloads). */
export async function newPage(browser) {
  const ctx = await browser.newContext({
    baseURL: BASE,
    locale: 'he-IL',
    timezoneId: 'Asia/Jerusalem',
    acceptDownloads: true,
    viewport: { width: 1280, height: 860 },
  });
  ctx.setDefaultTimeout(T(15));
  const page = await ctx.newPage();
  page.on('pageerror', (e) => say(`note: page error: ${e.message}`));
  return page;
}

/** Sign in through the login form; wait for the layout. */
export async function login(page, email, password) {
  await page.goto('/', { waitUntil: 'domcontentloaded' });
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('layout').waitFor({ timeout: T(20) });
}

/**
 * How the gateway answers a route, from inside the signed-in page (the
 * cookie and the CSRF token of GET /api/me go along). Returns the status.
 */
export async function routeStatus(page, method, url, body) {
  return page.evaluate(
    async ({ method, url, body }) => {
      const me = await fetch('/api/me', { credentials: 'same-origin' }).then((r) => r.json());
      const r = await fetch(url, {
        method,
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return r.status;
    },
    { method, url, body },
  );
}

/**
 * One named step. A step whose route the gateway does not implement yet
 * (501, or 404/405 for a route it does not know) is skipped with a note naming the route; anything else that
 * throws fails the test.
 */
export async function step(page, name, fn, needs = null) {
  if (needs) {
    const st = await routeStatus(page, needs[0], needs[1], needs[2]);
    // 501: a route of docs/api.md the gateway has not implemented yet;
    // 404/405: a route the gateway does not know yet.
    if (st === 501 || st === 404 || st === 405) {
      say(`note: skipped "${name}": ${needs[0]} ${needs[1]} answers ${st} (not in the gateway yet)`);
      return false;
    }
  }
  const t0 = Date.now();
  try {
    await fn();
  } catch (e) {
    await shot(page, `fail-${name.replace(/\W+/g, '_')}`);
    if (e instanceof Fail) throw new Fail(`${name}: ${e.message}`);
    throw new Fail(`${name}: ${e.message.split('\n').slice(0, 6).join(' | ')}`);
  }
  await shot(page, name.replace(/\W+/g, '_'));
  say(`ok: ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return true;
}

/** Poll fn() until it returns a truthy value, at most ms milliseconds. */
export async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (let i = 0; i < 100000; i++) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Fail(`gave up waiting for ${what}`);
}
