// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core against
// the real daemon on a loopback port it picks itself. Registered with ctest (label `browser`);
// screenshots of every step go to --artifacts.
//
//   node tests/browser/dashboard_test.mjs --batchd build/daemon/batchd --artifacts DIR
//
// Steps (each must hold, or the test fails with a screenshot and the daemon's log):
//   1. the batch list loads, and a batch submitted elsewhere appears in it and runs to 100% live;
//   2. a batch submitted from the submit page opens its page, whose bar reaches 100% live;
//   3. a dropped event connection reconnects with `since` and the counts end exact;
//   4. a second batch is canceled from its page and the state changes to canceled;
//   5. a running session's chunk map fills in;
//   6. an invalid batch's validation error is shown at the offending field;
//   7. a stats batch's page shows its folded result and links to its results export.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { args, assert, launchBrowser, loadPlaywright, startDaemon, stopDaemon } from './harness.mjs';

async function main() {
  const opts = args();
  mkdirSync(opts.artifacts, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'batchd-browser-'));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const { chromium } = await loadPlaywright();
  let daemon = null;
  let context = null;
  let page = null;
  let step = 0;
  const shot = async (name) => page.screenshot({ path: join(opts.artifacts, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  const ok = (what) => console.log(`ok ${step} - ${what}`);

  try {
    // A tiny zarr v2 array (float64 1, 2, 3, 4 in two uncompressed chunks) for step 7's stats.
    const arrays = join(work, 'arrays');
    const array = join(arrays, 'a.zarr');
    mkdirSync(array, { recursive: true });
    writeFileSync(join(array, '.zarray'), JSON.stringify({
      zarr_format: 2, shape: [4], chunks: [2], dtype: '<f8', compressor: null, fill_value: 0,
      order: 'C', filters: null,
    }));
    const chunk = (a, b) => { const buf = Buffer.alloc(16); buf.writeDoubleLE(a, 0); buf.writeDoubleLE(b, 8); return buf; };
    writeFileSync(join(array, '0'), chunk(1, 2));
    writeFileSync(join(array, '1'), chunk(3, 4));
    daemon = await startDaemon(opts.batchd, dataDir, ['--file-root', arrays]);
    const base = `http://127.0.0.1:${daemon.port}`;
    const rest = async (method, path, body) => {
      const r = await fetch(base + path, { method, body: body && JSON.stringify(body) });
      const json = await r.json();
      assert(r.ok, `${method} ${path}: HTTP ${r.status} ${JSON.stringify(json)}`);
      return json;
    };
    const sleepBatch = (name, n, ms, extra = {}) => ({
      name, max_running: 2, ...extra,
      template: { op: 'sleep', ms, n: 0, ...(extra.template || {}) },
      data: [[{ field: '/n', items: Array.from({ length: n }, (_, i) => i) }]],
    });

    context = await launchBrowser(chromium, opts.chromium, work);
    page = context.pages()[0] || await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // 1. The list, live.
    step = 1;
    await page.goto(base + '/');
    await page.waitForSelector('[data-testid=batches]');
    await page.waitForSelector('[data-testid=connection][data-state=live]');
    const listed = await rest('POST', '/api/v1/batches', sleepBatch('from elsewhere', 12, 80));
    const row = page.locator(`[data-testid=batch-row][data-batch="${listed.id}"]`);
    await row.waitFor();  // appeared without a reload, from batch.enqueued
    await row.locator('[data-testid=progress][aria-valuenow="100"]').waitFor();
    await row.locator('.badge.completed').waitFor();
    await shot('list-live');
    ok('the list shows a new batch and its bar reaches 100% live');
    // The nodes card: the embedded store's one node, alive, with the daemon's slots.
    const nodeRow = page.locator('[data-testid=nodes] [data-testid=node-row][data-state=alive]');
    await nodeRow.waitFor();
    assert((await page.locator('[data-testid=node-row]').count()) === 1, 'more than one node listed');
    const served = await rest('GET', '/api/v1/nodes');
    assert((await nodeRow.textContent()).includes(served.items[0].name), 'the node row lacks its name');
    ok('the nodes card lists this daemon, alive');

    // 2. Submit from the page; its bar reaches 100% live.
    step = 2;
    await page.click('[data-testid=nav-submit]');
    await page.waitForSelector('[data-testid=editor]');
    await page.evaluate(() => { window.__noReload = true; });
    await page.fill('[data-testid=editor]', JSON.stringify(sleepBatch('from the page', 24, 100), null, 2));
    await page.click('[data-testid=submit]');
    await page.waitForURL(/#\/batch\/[0-9a-f]{16}$/);
    const submittedId = page.url().split('/').pop();
    // Sample the bar while it moves: it must be seen between 0 and 100 on the way.
    await page.evaluate(() => {
      window.__seen = [];
      const sample = () => {
        const bar = document.querySelector('[data-testid=progress]');
        if (bar) window.__seen.push(Number(bar.getAttribute('aria-valuenow')));
        if (!window.__seen.includes(100)) requestAnimationFrame(sample);
      };
      sample();
    });
    await page.waitForFunction(() => window.__seen.some((v) => v > 0 && v < 100));
    await shot('progress-midway');
    await page.waitForSelector('[data-testid=progress][aria-valuenow="100"]');
    await page.waitForSelector('[data-testid=batch-state]:text("completed")');
    const seen = await page.evaluate(() => window.__seen);
    assert(seen.some((v) => v > 0 && v < 100), `the bar never showed progress between 0 and 100: ${seen.join(',')}`);
    assert(await page.evaluate(() => window.__noReload === true), 'the page reloaded');
    assert((await page.textContent('[data-testid=stat-completed] b')) === '24', 'the completed counter is not 24');
    const submittedRest = await rest('GET', `/api/v1/batches/${submittedId}`);
    assert(submittedRest.counts.completed === 24, 'REST does not say 24 completed');
    await shot('progress-100');
    ok(`a batch submitted from the page (${submittedId}) reaches 100% live (bar seen at ${[...new Set(seen)].join(', ')})`);

    // 3. A dropped connection resumes with since; the counts end exact.
    step = 3;
    const dropped = await rest('POST', '/api/v1/batches', sleepBatch('dropped', 30, 100));
    await page.goto(`${base}/#/batch/${dropped.id}`);
    await page.waitForSelector('[data-testid=connection][data-state=live]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=progress]')?.getAttribute('aria-valuenow')) > 0);
    await page.evaluate(() => window.batchd.dropConnections());
    await page.waitForSelector('[data-testid=connection][data-state=reconnecting]', { state: 'attached' }).catch(() => {});
    await page.waitForSelector('[data-testid=connection][data-state=live]');
    await page.waitForSelector('[data-testid=progress][aria-valuenow="100"]');
    await page.waitForSelector('[data-testid=batch-state]:text("completed")');
    const reconnects = await page.evaluate(() => [...window.batchd.feeds].reduce((n, f) => n + f.reconnects, 0));
    assert(reconnects >= 1, 'the feed never reconnected');
    const droppedRest = await rest('GET', `/api/v1/batches/${dropped.id}`);
    for (const [stat, key] of [['stat-completed', 'completed'], ['stat-error', 'error'], ['stat-canceled', 'canceled'],
                               ['stat-running', 'in_progress'], ['stat-waiting', 'uninitialized']]) {
      const shown = (await page.textContent(`[data-testid=${stat}] b`)).replace(/,/g, '');
      assert(Number(shown) === droppedRest.counts[key], `${key}: the page shows ${shown}, REST ${droppedRest.counts[key]}`);
    }
    await shot('reconnected');
    ok(`after a dropped connection (${reconnects} reconnect) the counts equal REST`);

    // 4. Cancel a second batch from its page.
    step = 4;
    const doomed = await rest('POST', '/api/v1/batches', sleepBatch('to cancel', 10, 60_000));
    await page.goto(`${base}/#/batch/${doomed.id}`);
    await page.waitForSelector('[data-testid=batch-state]:text("running")');
    await shot('before-cancel');
    await page.click('[data-testid=action-cancel]');
    await page.waitForSelector('[data-testid=batch-state]:text("canceled")');
    await page.waitForSelector('[data-testid=action-notice] .notice.ok');
    await page.waitForSelector('[data-testid=stat-canceled] b:text("10")');
    assert(await page.isDisabled('[data-testid=action-cancel]'), 'cancel is still offered on a canceled batch');
    assert((await rest('GET', `/api/v1/batches/${doomed.id}`)).state === 'canceled', 'REST does not say canceled');
    await shot('canceled');
    ok('a batch canceled from its page shows canceled');

    // 5. The chunk map of a running session fills in.
    step = 5;
    const chunky = await rest('POST', '/api/v1/batches',
      sleepBatch('chunky', 2, 3000, { template: { chunks: 90 } }));
    await page.goto(`${base}/#/batch/${chunky.id}`);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=chunk-map]')?.dataset.done) > 10);
    const cells = await page.locator('[data-testid=chunk-map] i.done').count();
    assert(cells > 10, `only ${cells} chunk cells are marked done`);
    await shot('chunk-map');
    ok(`the chunk map of a running session fills in (${cells} of 90 cells done)`);

    // 6. A validation error is shown at the offending field.
    step = 6;
    await page.click('[data-testid=nav-submit]');
    const invalid = JSON.stringify({
      name: 'typo',
      template: { op: 'noop', x: 1 },
      data: [[{ field: '/x', items: [1, 2] }], [{ field: '/y', items: [3] }]],
    }, null, 2);
    await page.fill('[data-testid=editor]', invalid);
    await page.click('[data-testid=submit]');
    const note = page.locator('[data-testid=field-error]');
    await note.waitFor({ state: 'visible' });
    const message = await note.textContent();
    assert(message.includes('/data/1/0/field') && message.includes('"/y" does not exist in template'),
      `the error shown is: ${message}`);
    const expectedLine = invalid.split('\n').findIndex((l) => l.includes('"field": "/y"')) + 1;
    const marked = Number(await page.textContent('[data-testid=error-line]'));
    assert(marked === expectedLine, `the gutter marks line ${marked}, the field is on line ${expectedLine}`);
    assert(Number(await note.getAttribute('data-line')) === expectedLine, 'the message is not at the field\'s line');
    const selected = await page.$eval('[data-testid=editor]', (t) => t.value.slice(t.selectionStart, t.selectionEnd));
    assert(selected.startsWith('"field": "/y"'), `the selection is ${JSON.stringify(selected)}`);
    assert(page.url().endsWith('#/submit'), 'an invalid batch left the submit page');
    await shot('validation-error');
    ok(`the validation error is shown at line ${expectedLine}, the offending field`);

    // 7. A stats batch's page shows its result (folded over its sessions) and the export link.
    step = 7;
    const stats = await rest('POST', '/api/v1/batches', {
      name: 'stats result',
      template: { op: 'stats', source: { url: `file://${array}` }, region: [[0, 1]] },
      data: [[{ field: '/region', items: [[[0, 1]], [[1, 2]]] }]],
    });
    await page.goto(`${base}/#/batch/${stats.id}`);
    await page.waitForSelector('[data-testid=batch-state]:text("completed")');
    await page.waitForFunction(() => document.querySelector('[data-testid=batch-result]')?.textContent.includes('"sum": 10'));
    const shown = await page.textContent('[data-testid=batch-result]');
    assert(shown.includes('"count": 4') && shown.includes('"mean": 2.5'), `the result shown is: ${shown}`);
    const href = await page.getAttribute('[data-testid=download-csv]', 'href');
    assert(href === `/api/v1/batches/${stats.id}/results?format=csv`, `the CSV link is ${href}`);
    const csv = await page.evaluate(async (url) => (await fetch(url)).text(), href);
    const records = csv.split('\r\n').filter((l) => l.length > 0);
    assert(records.length === 3 && records[0].startsWith('session_id,ordinal,run,index,values,state'),
      `the export is: ${csv}`);
    assert(records.slice(1).every((r) => r.includes(',completed,')), `not every session completed: ${csv}`);
    await shot('batch-result');
    ok('a stats batch\'s page shows its folded result and links to its CSV export');

    assert(pageErrors.length === 0, `JavaScript errors on the page: ${pageErrors.join('; ')}`);
    console.log(`# all ${step} steps passed; screenshots in ${opts.artifacts}`);
  } catch (err) {
    console.log(`not ok ${step} - ${err.message}`);
    if (page) await page.screenshot({ path: join(opts.artifacts, `failure-step-${step}.png`), fullPage: true }).catch(() => {});
    if (daemon) console.log('# --- batchd log ---\n' + daemon.log().split('\n').slice(-60).join('\n'));
    process.exitCode = 1;
  } finally {
    if (context) await context.close().catch(() => {});
    await stopDaemon(daemon);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
