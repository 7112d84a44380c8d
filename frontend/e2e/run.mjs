// @ts-check
/* global window, document */
/**
 * Plangen end-to-end journeys (playwright-core + axe-core, no browser download).
 *
 *   PLANGEN_E2E_URL=http://127.0.0.1:8080 npm run e2e           # against a running platform
 *   PLANGEN_E2E_SERVER_CMD='../target/debug/plangen all --port 0' npm run e2e
 *                                                              # starts the server, reads "listening on http://…"
 *   npm run e2e -- --smoke                                     # only the public pages (works with `vite preview`)
 *
 * CHROMIUM_PATH overrides /usr/bin/chromium. Screenshots go to test-results/screenshots/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const shotsDir = join(here, '..', 'test-results', 'screenshots');
mkdirSync(shotsDir, { recursive: true });

const SMOKE = process.argv.includes('--smoke') || process.env.E2E_SMOKE === '1';
const TIMEOUT = Number(process.env.E2E_TIMEOUT ?? 15000);
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** @type {{ name: string; ok: boolean; error?: string }[]} */
const results = [];
/** @type {import('node:child_process').ChildProcess | null} */
let serverProcess = null;

/** @param {...unknown} args */
function log(...args) {
  console.log('[e2e]', ...args);
}

/**
 * Starts PLANGEN_E2E_SERVER_CMD and resolves with the URL it prints.
 * @param {string} cmd
 * @returns {Promise<string>}
 */
function startServer(cmd) {
  return new Promise((resolve, reject) => {
    log(`starting server: ${cmd}`);
    const child = spawn('sh', ['-c', cmd], { cwd: join(here, '..'), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    serverProcess = child;
    const timer = setTimeout(() => reject(new Error(`server did not print "listening on http://…" within 90s`)), 90_000);
    let buffer = '';
    const onData = (/** @type {Buffer} */ chunk) => {
      const text = chunk.toString();
      process.stdout.write(`[server] ${text}`);
      // eslint-disable-next-line no-control-regex
      buffer += text.replace(/\x1b\[[0-9;]*m/g, '');
      const m = /listening on (https?:\/\/[^\s]+)/i.exec(buffer) ?? /Local:\s+(https?:\/\/[^\s]+)/.exec(buffer);
      if (m && m[1]) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/+$/, ''));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server command exited early with code ${code}`));
    });
  });
}

function stopServer() {
  if (serverProcess?.pid) {
    try {
      process.kill(-serverProcess.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

/**
 * @param {string} name
 * @param {() => Promise<void>} fn
 */
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`✓ ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    const error = e instanceof Error ? e.message.split('\n').slice(0, 6).join('\n') : String(e);
    results.push({ name, ok: false, error });
    log(`✗ ${name}\n    ${error}`);
    throw e;
  }
}

/** @param {boolean} cond @param {string} message */
function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * Runs axe and fails on serious/critical violations.
 * @param {import('playwright-core').Page} page
 * @param {string} label
 */
async function axeCheck(page, label) {
  // Evaluated through the DevTools protocol: the platform's CSP (script-src 'self') rightly
  // refuses inline script tags, and the test must not weaken it.
  await page.evaluate(axeSource);
  /** @type {{ id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[]} */
  const violations = await page.evaluate(async () => {
    // @ts-expect-error injected global
    const axe = window.axe;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return r.violations.map((/** @type {any} */ v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((/** @type {any} */ n) => ({ target: n.target })) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of violations) {
    log(`  axe[${label}] ${v.impact}: ${v.id} — ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  }
  assert(bad.length === 0, `axe found ${bad.length} serious/critical violation(s) on ${label}: ${bad.map((v) => v.id).join(', ')}`);
}

/**
 * Signs in through the login form (each browser context gets its own session;
 * copying cookies between contexts would share one rotating refresh token).
 * @param {import('playwright-core').Page} page @param {string} baseUrl @param {string} login @param {string} password
 */
async function signIn(page, baseUrl, login, password) {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
}

/** @param {import('playwright-core').Page} page @param {string} name */
async function shot(page, name) {
  await page.screenshot({ path: join(shotsDir, `${name}.png`), fullPage: true });
}

/** @param {import('playwright-core').Page} page @param {string} label */
async function noHorizontalOverflow(page, label) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert(scroll <= width + 1, `${label}: page is ${scroll}px wide in a ${width}px viewport`);
}

/**
 * Compares instants, independent of how the server formats them.
 * @param {(string | null)[]} actual @param {string[]} expected
 */
function sameInstants(actual, expected) {
  return actual.length === expected.length && actual.every((a, i) => Date.parse(String(a)) === Date.parse(String(expected[i])));
}

async function main() {
  let baseUrl = process.env.PLANGEN_E2E_URL?.replace(/\/+$/, '');
  if (!baseUrl) {
    const cmd = process.env.PLANGEN_E2E_SERVER_CMD;
    if (!cmd) {
      console.error(
        '[e2e] Set PLANGEN_E2E_URL to a running Plangen (e.g. http://127.0.0.1:8080),\n' +
          "      or PLANGEN_E2E_SERVER_CMD to a command that starts one and prints 'listening on http://HOST:PORT'\n" +
          "      (e.g. PLANGEN_E2E_SERVER_CMD='../target/debug/plangen all --port 0').",
      );
      process.exit(2);
    }
    baseUrl = await startServer(cmd);
  }
  log(`target: ${baseUrl}${SMOKE ? ' (smoke)' : ''}`);

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const desktop = await browser.newContext({ viewport: { width: 1280, height: 860 }, timezoneId: 'Europe/Berlin', locale: 'en-GB' });
    desktop.setDefaultTimeout(TIMEOUT);
    const page = await desktop.newPage();
    page.on('pageerror', (e) => log(`  page error: ${e.message}`));

    await step('login page renders (anonymous visitor is redirected to /login)', async () => {
      await page.goto(`${baseUrl}/`);
      await page.waitForURL(/\/login/);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await shot(page, 'login');
      await axeCheck(page, 'login');
    });

    if (SMOKE) {
      await step('register page renders', async () => {
        await page.getByRole('link', { name: 'Create an account' }).click();
        await page.getByRole('heading', { name: 'Create your account' }).waitFor();
        await shot(page, 'register');
        await axeCheck(page, 'register');
      });
      await step('mobile login (360x740) fits the screen', async () => {
        const mobile = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
        const p = await mobile.newPage();
        await p.goto(`${baseUrl}/login`);
        await p.getByRole('heading', { name: 'Sign in' }).waitFor();
        await noHorizontalOverflow(p, 'mobile login');
        await shot(p, 'mobile-login');
        await mobile.close();
      });
      return;
    }

    const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1000)}`;
    const user = { email: `e2e_${suffix}@example.com`, username: `e2e_${suffix}`, password: 'correct horse battery', name: 'E2E Tester' };
    let planUrl = '';

    await step('register a new account', async () => {
      await page.goto(`${baseUrl}/register`);
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Username').fill(user.username);
      await page.getByLabel('Name (optional)').fill(user.name);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${baseUrl}/`);
      await page.getByRole('heading', { name: /Hello/ }).waitFor();
      await shot(page, 'dashboard-empty');
      await axeCheck(page, 'dashboard');
    });

    await step('create a template with 3 steps', async () => {
      await page.getByRole('link', { name: 'Templates' }).first().click();
      await page.getByRole('heading', { name: 'Templates', exact: true }).waitFor();
      await page.getByTestId('new-template').click();
      await page.getByLabel('Name').fill('E2E Moving day');
      await page.getByLabel('Category').fill('Home');
      await page.getByLabel('Tags').fill('moving, e2e');
      await page.getByLabel('Description').fill('Created by the end-to-end journey.');
      await page.getByLabel('Step 1 title').fill('Pack boxes');
      await page.getByTestId('add-step').click();
      await page.getByLabel('Step 2 title').fill('Drive the van');
      await page.getByTestId('add-step').click();
      await page.getByLabel('Step 3 title').fill('Unpack kitchen');
      await page.getByTestId('step-time').nth(2).fill('18:30');
      const offsets = await page.getByTestId('step-offset').evaluateAll((els) => els.map((e) => /** @type {HTMLInputElement} */ (e).value));
      assert(JSON.stringify(offsets) === JSON.stringify(['0', '1', '2']), `offsets were ${offsets}`);
      await shot(page, 'template-editor');
      await axeCheck(page, 'template editor');
      await page.getByTestId('save-template').click();
      await page.waitForURL(/\/templates\/[^/]+$/);
      await page.getByRole('heading', { name: 'E2E Moving day' }).waitFor();
      const steps = await page.getByTestId('template-steps').locator('li').count();
      assert(steps === 3, `template page shows ${steps} steps`);
      await shot(page, 'template');
      await axeCheck(page, 'template page');
    });

    const expectedDue = ['2026-03-27T08:00:00Z', '2026-03-28T08:00:00Z', '2026-03-29T16:30:00Z'];

    await step('use the template with a start date (preview shows DST-correct dates)', async () => {
      await page.getByTestId('use-template').click();
      await page.getByLabel('Start date').fill('2026-03-27');
      await page.getByLabel('Time zone').fill('Europe/Berlin');
      const preview = await page.getByTestId('preview-due').evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
      assert(sameInstants(preview, expectedDue), `preview ${JSON.stringify(preview)}`);
      await shot(page, 'use-template');
      await axeCheck(page, 'use template');
      await page.getByTestId('create-plan').click();
      await page.waitForURL(/\/plans\/[^/]+$/);
      planUrl = page.url();
    });

    await step('the plan shows the right due dates', async () => {
      await page.getByTestId('plan-item').first().waitFor();
      const due = await page.getByTestId('item-due').evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
      assert(sameInstants(due, expectedDue), `plan due dates ${JSON.stringify(due)}`);
      await shot(page, 'plan');
      await axeCheck(page, 'plan page');
    });

    await step('check an item, reload and it is kept (session restored from cookie)', async () => {
      const box = page.getByRole('checkbox', { name: 'Pack boxes' });
      const patched = page.waitForResponse((r) => r.request().method() === 'PATCH' && /\/items\//.test(r.url()));
      await box.click();
      await page.waitForFunction(() => {
        const boxes = /** @type {HTMLInputElement[]} */ (Array.from(document.querySelectorAll('input[type=checkbox]')));
        return boxes.some((e) => e.labels?.[0]?.textContent === 'Pack boxes' && e.checked);
      });
      const response = await patched;
      assert(response.ok(), `PATCH item answered ${response.status()}`);
      await page.reload();
      await page.getByRole('checkbox', { name: 'Pack boxes' }).waitFor();
      assert(await page.getByRole('checkbox', { name: 'Pack boxes' }).isChecked(), 'item not checked after reload');
      assert(!(await page.getByRole('checkbox', { name: 'Drive the van' }).isChecked()), 'wrong item checked');
      const progress = await page.getByRole('progressbar', { name: 'Plan progress' }).getAttribute('aria-valuenow');
      assert(progress === '33', `progress was ${progress}`);
    });

    await step('pages render: plans list, calendar, profile', async () => {
      await page.goto(`${baseUrl}/plans`);
      await page.getByTestId('plan-list').getByRole('link', { name: 'E2E Moving day' }).waitFor();
      await shot(page, 'plans');
      await axeCheck(page, 'plans');
      await page.goto(`${baseUrl}/calendar?view=month&date=2026-03-27`);
      await page.getByTestId('calendar-month').waitFor();
      await page.getByText('Unpack kitchen').first().waitFor();
      await shot(page, 'calendar-month');
      await axeCheck(page, 'calendar');
      await page.goto(`${baseUrl}/calendar?view=week&date=2026-03-27`);
      await page.getByTestId('calendar-week').waitFor();
      await shot(page, 'calendar-week');
      await page.goto(`${baseUrl}/profile`);
      await page.getByTestId('sessions').waitFor();
      await shot(page, 'profile');
      await axeCheck(page, 'profile');
      await page.goto(`${baseUrl}/templates`);
      await page.getByTestId('template-list').waitFor();
      await shot(page, 'templates');
      await axeCheck(page, 'templates');
    });

    await step('dark theme renders without contrast problems', async () => {
      const dark = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'dark', timezoneId: 'Europe/Berlin' });
      dark.setDefaultTimeout(TIMEOUT);
      const p = await dark.newPage();
      await signIn(p, baseUrl, user.email, user.password);
      await p.goto(planUrl);
      await p.getByTestId('plan-item').first().waitFor();
      assert(await p.evaluate(() => document.documentElement.classList.contains('dark')), 'dark class not applied');
      await shot(p, 'plan-dark');
      await axeCheck(p, 'plan (dark)');
      await dark.close();
    });

    await step('log out', async () => {
      await page.getByTestId('logout').click();
      await page.waitForURL(/\/login/);
      await page.goto(`${baseUrl}/plans`);
      await page.waitForURL(/\/login/);
    });

    await step('wrong password shows an error in the form', async () => {
      await page.getByLabel('Email or username').fill(user.email);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      const error = page.getByTestId('form-error');
      await error.waitFor();
      assert(/Wrong email\/username or password/.test((await error.textContent()) ?? ''), 'wrong message');
      await shot(page, 'login-wrong-password');
    });

    await step('log back in and the plan is still there', async () => {
      await signIn(page, baseUrl, user.username, user.password);
      await page.goto(`${baseUrl}/plans`);
      await page.getByTestId('plan-list').getByRole('link', { name: 'E2E Moving day' }).click();
      await page.getByRole('checkbox', { name: 'Pack boxes' }).waitFor();
      assert(await page.getByRole('checkbox', { name: 'Pack boxes' }).isChecked(), 'checked state lost after re-login');
      await page.goto(`${baseUrl}/`);
      await page.getByTestId('active-plans').waitFor();
      await shot(page, 'dashboard');
    });

    await step('mobile viewport (360x740): navigation, pages fit, axe', async () => {
      const mobile = await browser.newContext({
        viewport: { width: 360, height: 740 },
        isMobile: true,
        hasTouch: true,
        timezoneId: 'Europe/Berlin',
      });
      mobile.setDefaultTimeout(TIMEOUT);
      const p = await mobile.newPage();
      await signIn(p, baseUrl, user.username, user.password);
      for (const [name, path, ready] of /** @type {const} */ ([
        ['dashboard', '/', 'active-plans'],
        ['plans', '/plans', 'plan-list'],
        ['templates', '/templates', 'template-list'],
        ['calendar', '/calendar', 'calendar-week'],
        ['profile', '/profile', 'sessions'],
      ])) {
        await p.goto(`${baseUrl}${path}`);
        await p.getByTestId(ready).waitFor();
        await noHorizontalOverflow(p, `mobile ${name}`);
        await shot(p, `mobile-${name}`);
        await axeCheck(p, `mobile ${name}`);
      }
      await p.goto(planUrl);
      await p.getByTestId('plan-item').first().waitFor();
      await noHorizontalOverflow(p, 'mobile plan');
      await shot(p, 'mobile-plan');
      await p.getByTestId('menu-toggle').click();
      await p.locator('#mobile-nav').getByRole('link', { name: 'Templates' }).click();
      await p.waitForURL(/\/templates(\?.*)?$/);
      await mobile.close();
    });

    await step('duplicate email shows an error next to the field', async () => {
      const fresh = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const p = await fresh.newPage();
      await p.goto(`${baseUrl}/register`);
      await p.getByLabel('Email').fill(user.email);
      await p.getByLabel('Username').fill(`${user.username}_2`.slice(0, 32));
      await p.getByLabel('Password').fill(user.password);
      await p.getByRole('button', { name: 'Create account' }).click();
      const emailError = p.locator('[id$="-error"]').filter({ hasText: /./ }).first();
      await emailError.waitFor();
      const described = await p.getByLabel('Email').getAttribute('aria-describedby');
      const invalid = await p.getByLabel('Email').getAttribute('aria-invalid');
      assert(invalid === 'true' && !!described, `email field not marked invalid (aria-invalid=${invalid})`);
      await shot(p, 'register-duplicate-email');
      await fresh.close();
    });

    await step('log out everywhere from the profile', async () => {
      await page.goto(`${baseUrl}/profile`);
      await page.getByTestId('sessions').waitFor();
      const sessionsBefore = await page.getByTestId('sessions').locator('li').count();
      assert(sessionsBefore >= 2, `expected several sessions, saw ${sessionsBefore}`);
      await shot(page, 'profile-sessions');
      await page.getByTestId('logout-all').click();
      await page.waitForURL(/\/login/);
      await page.goto(`${baseUrl}/plans`);
      await page.waitForURL(/\/login/);
    });
  } finally {
    await browser.close();
  }
}

process.on('exit', stopServer);
process.on('unhandledRejection', (e) => log(`  (ignored after failure) ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`));

let exitCode = 0;
try {
  await main();
} catch (e) {
  exitCode = 1;
  if (!results.some((r) => !r.ok)) console.error('[e2e]', e);
} finally {
  stopServer();
}
const passed = results.filter((r) => r.ok).length;
const failed = results.filter((r) => !r.ok).length;
console.log(`\ne2e: ${passed} passed, ${failed} failed`);
console.log(`screenshots: ${shotsDir}`);
process.exit(exitCode || (failed ? 1 : 0));
