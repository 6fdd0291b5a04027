// The dashboard against a daemon started with --token-file, in Debian's headless Chromium
// (label `browser`; screenshots of every step go to --artifacts/token).
//
//   node tests/browser/dashboard_token_test.mjs --batchd build/daemon/batchd --artifacts DIR
//
// Steps:
//   1. the page loads without a token, and the API's 401 makes it ask for one;
//   2. with a read token it lists the batches and follows them live (the event stream takes the
//      token as a WebSocket subprotocol, which Chromium must accept);
//   3. a read token cannot cancel: the 403 is shown, and the batch is not canceled;
//   4. a refused token is asked for again.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { args, assert, launchBrowser, loadPlaywright, startDaemon, stopDaemon } from './harness.mjs';

const ADMIN = 'browser-admin-token-5b0c9e';
const READ = 'browser-read-token-2f7d41';

async function main() {
  const opts = args();
  const artifacts = join(opts.artifacts, 'token');
  mkdirSync(artifacts, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'batchd-browser-token-'));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const tokenFile = join(work, 'tokens');
  writeFileSync(tokenFile, `admin:${ADMIN}\nread:${READ}\n`);
  const { chromium } = await loadPlaywright();
  let daemon = null;
  let context = null;
  let page = null;
  let step = 0;
  const shot = async (name) => page.screenshot({ path: join(artifacts, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  const ok = (what) => console.log(`ok ${step} - ${what}`);

  try {
    daemon = await startDaemon(opts.batchd, dataDir, ['--token-file', tokenFile]);
    const base = `http://127.0.0.1:${daemon.port}`;
    const rest = async (method, path, body, token = ADMIN) => {
      const r = await fetch(base + path, { method, body: body && JSON.stringify(body), headers: { Authorization: `Bearer ${token}` } });
      const json = await r.json();
      assert(r.ok, `${method} ${path}: HTTP ${r.status} ${JSON.stringify(json)}`);
      return json;
    };
    const sleepBatch = (name, n, ms) => ({
      name, max_running: 2, template: { op: 'sleep', ms, n: 0 },
      data: [[{ field: '/n', items: Array.from({ length: n }, (_, i) => i) }]],
    });

    context = await launchBrowser(chromium, opts.chromium, work);
    page = context.pages()[0] || await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // 1. Asked for a token.
    step = 1;
    await page.goto(base + '/');
    await page.waitForSelector('[data-testid=token-form]:not([hidden])');
    const asked = await page.textContent('[data-testid=token-message]');
    assert(asked.includes('bearer token'), `the form says: ${asked}`);
    await shot('asked-for-token');
    ok('without a token the dashboard asks for one');

    // 2. A read token: the list, live.
    step = 2;
    await page.fill('[data-testid=token-input]', READ);
    await page.click('[data-testid=token-submit]');
    await page.waitForSelector('[data-testid=token-form][hidden]', { state: 'attached' });
    await page.waitForSelector('[data-testid=batches]');
    await page.waitForSelector('[data-testid=connection][data-state=live]');
    const listed = await rest('POST', '/api/v1/batches', sleepBatch('watched with a token', 8, 60));
    const row = page.locator(`[data-testid=batch-row][data-batch="${listed.id}"]`);
    await row.waitFor();  // from the event stream: the subprotocol token was accepted
    await row.locator('[data-testid=progress][aria-valuenow="100"]').waitFor();
    const stored = await page.evaluate(() => sessionStorage.getItem('batchd.token'));
    assert(stored === READ, 'the token is kept in sessionStorage');
    assert(!page.url().includes(READ), 'the token is not in the URL');
    await shot('list-live');
    ok('with a read token the list loads and follows a batch live');

    // 3. A read token cannot cancel.
    step = 3;
    const doomed = await rest('POST', '/api/v1/batches', sleepBatch('not canceled', 4, 60_000));
    await page.goto(`${base}/#/batch/${doomed.id}`);
    await page.waitForSelector('[data-testid=batch-state]:text("running")');
    await page.click('[data-testid=action-cancel]');
    const notice = page.locator('[data-testid=action-notice] .notice.error');
    await notice.waitFor();
    const said = await notice.textContent();
    assert(said.includes('admin token'), `the notice says: ${said}`);
    assert((await rest('GET', `/api/v1/batches/${doomed.id}`)).state === 'running', 'the batch was canceled');
    await shot('cancel-refused');
    ok('a read token cannot cancel, and the page says why');

    // 4. A token the daemon refuses is asked for again.
    step = 4;
    await page.evaluate(() => sessionStorage.setItem('batchd.token', 'no-such-token-000000'));
    await page.reload();
    await page.waitForSelector('[data-testid=token-form]:not([hidden])');
    const again = await page.textContent('[data-testid=token-message]');
    assert(again.includes('not valid'), `the form says: ${again}`);
    assert(await page.evaluate(() => sessionStorage.getItem('batchd.token')) === null, 'the refused token is forgotten');
    await shot('asked-again');
    ok('a refused token is forgotten and asked for again');

    await rest('POST', `/api/v1/batches/${doomed.id}/cancel`);
    assert(pageErrors.length === 0, `JavaScript errors on the page: ${pageErrors.join('; ')}`);
    const log = daemon.log();
    for (const secret of [ADMIN, READ]) assert(!log.includes(secret), 'a token is in the daemon log');
    console.log(`# all ${step} steps passed; screenshots in ${artifacts}`);
  } catch (err) {
    console.log(`not ok ${step} - ${err.message}`);
    if (page) await page.screenshot({ path: join(artifacts, `failure-step-${step}.png`), fullPage: true }).catch(() => {});
    if (daemon) console.log('# --- batchd log ---\n' + daemon.log().split('\n').slice(-60).join('\n'));
    process.exitCode = 1;
  } finally {
    if (context) await context.close().catch(() => {});
    await stopDaemon(daemon);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
