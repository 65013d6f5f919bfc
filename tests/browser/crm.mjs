// Browser test of the CRM screens against a real gateway + crm-store with
// the demo business (started by tests/e2e/scenarios/98_browser_crm.py).
//
// Why this exists: RTL, LTR islands, the CSV download's bytes, escaping of
// transcripts and the drag-and-drop pipeline only show in a real browser.
// Steps: log in; <html dir="rtl" lang="he">; a phone number's computed
// direction is ltr; CSV export (BOM + Hebrew); a lead's stage moved on its
// page; a note and a task from the lead; a settings edit; a transcript holding markup shows it as text; the kanban (mouse
// and keyboard drag); an appointment in the week calendar; a CSV import
// with a duplicate phone merged; an owner creates a user and sees the
// one-time password; an agent cannot open the users page.
// A step whose API route answers 501 is skipped with a note.
//
// Environment: lib.mjs's, plus MERKAZIA_BROWSER_OWNER / _AGENT (e-mails),
// MERKAZIA_BROWSER_PASSWORD (both users'), MERKAZIA_BROWSER_MARKUP_CALL
// (a call_sid whose turn holds markup).
import fs from 'node:fs';
import path from 'node:path';
import { ARTEFACTS, T, check, login, newPage, run, say, step, waitFor } from './lib.mjs';

const OWNER = process.env.MERKAZIA_BROWSER_OWNER || '';
const AGENT = process.env.MERKAZIA_BROWSER_AGENT || '';
const PASSWORD = process.env.MERKAZIA_BROWSER_PASSWORD || '';
const MARKUP_CALL = process.env.MERKAZIA_BROWSER_MARKUP_CALL || '';

async function customerId(page, name) {
  return page.evaluate(async (name) => {
    const r = await fetch(`/api/customers?search=${encodeURIComponent(name)}`, { credentials: 'same-origin' });
    const d = await r.json();
    return d.rows.find((x) => x.name === name)?.id ?? null;
  }, name);
}

async function customerStage(page, id) {
  return page.evaluate(async (id) => {
    const r = await fetch(`/api/customers/${id}`, { credentials: 'same-origin' });
    return (await r.json()).customer.stage;
  }, id);
}

await run(async (browser) => {
  check(OWNER && PASSWORD, 'MERKAZIA_BROWSER_OWNER / _PASSWORD are not set');
  const page = await newPage(browser);

  await step(page, 'login', async () => {
    await login(page, OWNER, PASSWORD);
  });

  await step(page, 'rtl document', async () => {
    const root = await page.evaluate(() => ({
      dir: document.documentElement.getAttribute('dir'),
      lang: document.documentElement.getAttribute('lang'),
      computed: getComputedStyle(document.body).direction,
    }));
    check(root.dir === 'rtl' && root.lang === 'he', `<html> is ${JSON.stringify(root)}`);
    check(root.computed === 'rtl', `the body's computed direction is ${root.computed}`);
  });

  await step(page, 'phone renders ltr', async () => {
    await page.goto('/customers');
    await page.getByTestId('customers-table').getByTestId('row').first().waitFor();
    const phone = page.getByTestId('customers-table').getByTestId('phone').first();
    const d = await phone.evaluate((el) => ({
      dir: getComputedStyle(el).direction,
      text: el.textContent,
      parent: getComputedStyle(el.parentElement).direction,
    }));
    check(d.dir === 'ltr', `a phone's computed direction is ${d.dir}`);
    check(d.parent === 'rtl', `the phone's cell is ${d.parent}, not rtl`);
    check(/^0\d{1,2}-\d{3}-\d{4}$/.test(d.text || ''), `a phone reads ${d.text}`);
  });

  await step(page, 'csv export', async () => {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: T(20) }), page.getByTestId('export-csv').click()]);
    const file = path.join(ARTEFACTS, 'export.csv');
    await dl.saveAs(file);
    const bytes = fs.readFileSync(file);
    check(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf, 'the CSV has no UTF-8 BOM');
    const text = bytes.subarray(3).toString('utf8');
    check(text.includes('דנה כהן'), 'the CSV misses the Hebrew name דנה כהן');
    check(text.includes('\r\n'), 'the CSV rows do not end in CRLF');
    say(`note: export ${dl.suggestedFilename()}: ${bytes.length} bytes`);
  });

  const dana = await customerId(page, 'דנה כהן');
  check(dana, 'the demo lead דנה כהן is missing');
  await step(
    page,
    'stage move on the lead page',
    async () => {
      await page.goto(`/customers/${dana}`);
      await page.getByTestId('stage-stepper').waitFor();
      await page.getByTestId('stage-qualified').click();
      await waitFor(async () => (await page.getByTestId('stage-qualified').getAttribute('aria-current')) === 'step', T(10), 'the stepper to show the new stage');
      await waitFor(async () => (await customerStage(page, dana)) === 'qualified', T(10), 'the stage to be stored');
      await page.reload();
      await page.getByTestId('stage-stepper').waitFor();
      check((await page.getByTestId('stage-qualified').getAttribute('aria-current')) === 'step', 'the stage is lost after a reload');
    },
    ['PATCH', `/api/customers/${dana}`, {}],
  );

  await step(
    page,
    'note and task from the lead',
    async () => {
      await page.goto(`/customers/${dana}`);
      await page.getByTestId('composer').waitFor();
      await page.getByTestId('composer-text').fill('הלקוחה מעדיפה קומה גבוהה');
      await page.getByTestId('composer-submit').click();
      await page.getByTestId('timeline').getByText('הלקוחה מעדיפה קומה גבוהה').waitFor({ timeout: T(10) });
      await page.getByTestId('composer-task').click();
      await page.getByTestId('composer-text').fill('לשלוח הצעות בצפון הישן');
      await page.getByTestId('composer-submit').click();
      await page.getByTestId('timeline').getByText('לשלוח הצעות בצפון הישן').waitFor({ timeout: T(10) });
    },
    ['POST', `/api/customers/${dana}/notes`, {}],
  );

  await step(
    page,
    'settings edit',
    async () => {
      const greeting = `שלום, הגעתם לשי דירות. בדיקה ${Date.now() % 100000}`;
      await page.goto('/settings');
      await page.getByTestId('st-greeting').fill(greeting);
      await page.getByTestId('st-save').click();
      await page.getByTestId('st-saved').waitFor({ timeout: T(10) });
      await page.reload();
      await waitFor(async () => (await page.getByTestId('st-greeting').inputValue()) === greeting, T(10), 'the greeting to be stored');
    },
    ['PATCH', '/api/settings', {}],
  );

  if (MARKUP_CALL) {
    await step(page, 'transcript markup is text', async () => {
      await page.evaluate(() => {
        window.__injected = 0;
      });
      await page.goto(`/calls/${encodeURIComponent(MARKUP_CALL)}`);
      const turn = page.getByTestId('transcript').getByTestId('turn').first();
      await turn.waitFor();
      const t = await page.getByTestId('transcript').evaluate((el) => ({
        text: el.textContent,
        tags: el.querySelectorAll('img, script, b.injected, iframe').length,
      }));
      check(t.text.includes('<img'), `the markup is not shown as text: ${t.text.slice(0, 200)}`);
      check(t.tags === 0, 'the transcript rendered markup from a turn');
      check((await page.evaluate(() => window.__injected ?? 0)) === 0, 'an injected handler ran');
    });
  }

  // ---- issue #13 ----------------------------------------------------------
  await step(
    page,
    'kanban drag with the mouse',
    async () => {
      await page.goto('/leads');
      const board = page.getByTestId('kanban-buyer_renter');
      await board.waitFor();
      const card = board.locator(`[data-testid="kanban-card"][data-id="${dana}"]`);
      await card.waitFor();
      const from = await card.evaluate((el) => el.closest('[data-stage]').getAttribute('data-stage'));
      const to = from === 'viewing' ? 'negotiation' : 'viewing';
      const target = board.locator(`[data-testid="kanban-column"][data-stage="${to}"]`);
      await card.dragTo(target);
      await waitFor(async () => (await customerStage(page, dana)) === to, T(10), `the lead to move to ${to}`);
      await board.locator(`[data-testid="kanban-column"][data-stage="${to}"] [data-id="${dana}"]`).waitFor();
    },
    ['PATCH', `/api/customers/${dana}`, {}],
  );

  await step(
    page,
    'kanban move with the keyboard',
    async () => {
      await page.goto('/leads');
      const board = page.getByTestId('kanban-buyer_renter');
      const card = board.locator(`[data-testid="kanban-card"][data-id="${dana}"]`);
      await card.waitFor();
      const from = await customerStage(page, dana);
      await card.focus();
      await page.keyboard.press('Space');
      // In RTL the next column is to the left.
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('Space');
      await waitFor(async () => (await customerStage(page, dana)) !== from, T(10), 'the keyboard move to be stored');
      say(`note: keyboard moved the lead from ${from} to ${await customerStage(page, dana)}`);
    },
    ['PATCH', `/api/customers/${dana}`, {}],
  );

  await step(
    page,
    'appointment in the week calendar',
    async () => {
      await page.goto('/appointments');
      await page.getByTestId('new-appointment').click();
      await page.getByTestId('ap-customer').selectOption({ label: 'דנה כהן' });
      const when = new Date(Date.now() + 24 * 3600 * 1000);
      const local = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Jerusalem', year: 'numeric', month: '2-digit', day: '2-digit' }).format(when);
      await page.getByTestId('ap-date').fill(local);
      await page.getByTestId('ap-time').fill('11:30');
      await page.getByTestId('ap-address').fill('דיזנגוף 100, תל אביב');
      await page.getByTestId('ap-submit').click();
      await page.getByTestId('view-week').click();
      const ev = page.getByTestId('calendar').getByTestId('calendar-event').filter({ hasText: 'דנה כהן' });
      await ev.first().waitFor({ timeout: T(10) });
      const first = await page.getByTestId('calendar').locator('[data-testid="calendar-day"]').first().getAttribute('data-weekday');
      check(first === '0', `the week starts on weekday ${first}, not Sunday`);
    },
    ['GET', '/api/appointments'],
  );

  await step(
    page,
    'csv import merges a duplicate phone',
    async () => {
      await page.goto('/import');
      const csv = '\ufeffשם,טלפון,עיר\r\nדנה כהן מעודכנת,050-123-4567,חיפה\r\nלקוח מיובא,052-999-8877,חולון\r\n';
      await page.getByTestId('import-file').setInputFiles({ name: 'leads.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
      await page.getByTestId('import-next').click();
      await page.getByTestId('map-phone').selectOption('טלפון');
      await page.getByTestId('map-name').selectOption('שם');
      await page.getByTestId('import-next').click();
      await page.getByTestId('import-preview').waitFor();
      await page.getByTestId('import-dup-update').check();
      await page.getByTestId('import-run').click();
      const report = page.getByTestId('import-report');
      await report.waitFor({ timeout: T(20) });
      check((await report.getAttribute('data-updated')) === '1', `updated: ${await report.getAttribute('data-updated')}`);
      check((await report.getAttribute('data-created')) === '1', `created: ${await report.getAttribute('data-created')}`);
      const name = await page.evaluate(async (id) => (await (await fetch(`/api/customers/${id}`)).json()).customer.name, dana);
      check(name === 'דנה כהן מעודכנת', `the duplicate was not merged into the lead: ${name}`);
    },
    ['POST', '/api/import', { csv: '', mapping: {}, on_existing: 'skip', dry_run: true }],
  );

  await step(
    page,
    'owner creates a user and sees the one-time password',
    async () => {
      await page.goto('/users');
      await page.getByTestId('users-table').waitFor();
      await page.getByTestId('user-email').fill('new.agent@shai.test');
      await page.getByTestId('user-name').fill('נציגה חדשה');
      await page.getByTestId('user-submit').click();
      const pw = await page.getByTestId('one-time-password-value').textContent({ timeout: T(10) });
      check((pw || '').length >= 12, 'no one-time password shown');
      await page.getByTestId('users-table').getByText('new.agent@shai.test').waitFor();
    },
    ['GET', '/api/users'],
  );

  if (AGENT) {
    const agent = await newPage(browser);
    await step(agent, 'agent cannot open users', async () => {
      await login(agent, AGENT, PASSWORD);
      check((await agent.getByTestId('nav-users').count()) === 0, 'an agent sees the users link');
      await agent.goto('/users');
      await agent.getByTestId('forbidden').waitFor();
      check((await agent.getByTestId('users-table').count()) === 0, 'an agent sees the users table');
    });
  }
});
