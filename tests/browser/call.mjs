// Browser test of a live call: the dashboard shows a simulated call as it
// happens and its page fills with turns (started by
// tests/e2e/scenarios/97_browser_call.py, which places the call with
// sim-caller once this script prints "ready: dashboard").
//
// Why this exists: the live strip and the streaming transcript depend on
// SSE reaching a real browser through the gateway; jsdom cannot show it.
// Steps: log in; the dashboard; a live-call card appears (call_live) with
// its state; after a reload it is still there (GET /api/calls/live); its link opens the call page; caller and agent turns arrive
// while the call runs; each turn is Hebrew RTL; after the call ends the
// card leaves the dashboard.
//
// Environment: lib.mjs's, plus MERKAZIA_BROWSER_OWNER and
// MERKAZIA_BROWSER_PASSWORD.
import { T, check, login, newPage, run, say, step, waitFor } from './lib.mjs';

const OWNER = process.env.MERKAZIA_BROWSER_OWNER || '';
const PASSWORD = process.env.MERKAZIA_BROWSER_PASSWORD || '';

await run(async (browser) => {
  check(OWNER && PASSWORD, 'MERKAZIA_BROWSER_OWNER / _PASSWORD are not set');
  const page = await newPage(browser);
  await step(page, 'login', async () => {
    await login(page, OWNER, PASSWORD);
  });
  await step(page, 'dashboard connected', async () => {
    await page.goto('/');
    await waitFor(async () => (await page.getByTestId('live-status').getAttribute('data-status')) === 'open', T(15), 'the SSE stream to connect');
  });
  say('ready: dashboard');

  let sid = '';
  await step(page, 'live call appears', async () => {
    const card = page.getByTestId('live-call').first();
    await card.waitFor({ timeout: T(40) });
    sid = (await card.getAttribute('data-call-sid')) || '';
    check(sid, 'the live card has no call SID');
    const phone = await card.getByTestId('phone').first().evaluate((el) => getComputedStyle(el).direction);
    check(phone === 'ltr', `the caller's number is ${phone}`);
    say(`note: live call ${sid}, state ${await card.getByTestId('live-state').textContent()}`);
  });

  await step(
    page,
    'live list survives a reload',
    async () => {
      // GET /api/calls/live, not SSE, draws the card after a reload.
      await page.reload();
      await page.locator(`[data-testid="live-call"][data-call-sid="${sid}"]`).waitFor({ timeout: T(10) });
    },
    ['GET', '/api/calls/live'],
  );

  await step(page, 'turns arrive on the call page', async () => {
    await page.getByTestId('live-call').first().getByRole('link').click();
    await page.getByTestId('call-detail').waitFor();
    const turns = page.getByTestId('transcript').getByTestId('turn');
    const first = await waitFor(async () => await turns.count(), T(40), 'a first turn');
    const more = await waitFor(async () => {
      const n = await turns.count();
      return n > first && n >= 3 ? n : 0;
    }, T(60), 'more turns to stream in');
    say(`note: ${first} turn(s) when the page opened, ${more} later without a reload`);
    const speakers = await turns.evaluateAll((els) => els.map((e) => e.getAttribute('data-speaker')));
    check(speakers.includes('caller') && speakers.includes('agent'), `speakers: ${speakers.join(',')}`);
    const dirs = await page
      .locator('[data-testid="turn"][data-speaker="caller"], [data-testid="turn"][data-speaker="agent"]')
      .evaluateAll((els) => els.map((e) => `${getComputedStyle(e).direction}/${e.closest('[lang]')?.getAttribute('lang')}`));
    check(dirs.every((d) => d === 'rtl/he'), `turn directions: ${dirs.join(',')}`);
  });

  await step(page, 'the card leaves after the call', async () => {
    await page.getByTestId('nav-dashboard').click();
    await waitFor(async () => (await page.locator(`[data-testid="live-call"][data-call-sid="${sid}"]`).count()) === 0, T(45), 'the ended call to leave the live strip');
  });
});
