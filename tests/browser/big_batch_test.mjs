// The dashboard over a million-session batch (issue 5, acceptance 4), in Debian's headless
// Chromium driven by playwright-core against the real daemon on a loopback port. Registered with
// ctest as `browser_big_batch` (label `browser`); screenshots go to --artifacts.
//
//   node tests/browser/big_batch_test.mjs --batchd build/daemon/batchd --artifacts DIR
//        [--readme-images docs/images]   # also write the README's two screenshots there
//
// Steps (each must hold, or the test fails with a screenshot and the daemon's log):
//   1. a batch of 1,000,000 noop sessions is submitted and starts draining;
//   2. at half done, in a second tab, the batch list, the batch page and its sessions table (next
//      page, the waiting sessions) each show their data, timed by the browser from navigation
//      start (or from the click) to the frame with the data in the DOM. The times are reported,
//      not asserted: a loaded 2-core machine makes any bound flaky, so the target (LOAD_TARGET_MS)
//      is judged by bench/dashboard_bench.py, which runs this script and prints met/MISSED;
//   3. meanwhile the batch page follows the drain live to 100%, its JS heap (after a forced GC)
//      and DOM node count sampled every second from start to finish: both stay flat.
// The last line is one JSON object with the figures (load ms per page, heap and node samples).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { args, assert, loadPlaywright, startDaemon, stopProcess } from './harness.mjs';

const SESSIONS = 1_000_000;
// The default on 2 cores: the million drains in about 50 s here (25 s on a machine twice as
// fast is still enough samples), long enough to watch the heap, short enough for CI.
const SLOTS = 2;
// Issue 5's target: a page over a 1M-session batch loads in under 1 s (printed, never asserted).
const LOAD_TARGET_MS = 1000;
// After a forced GC the page holds a bounded working set whatever the batch size: the batch, the
// last batch.progress, at most 600 chart points (~80 B each), 20 errors, one page of 50 sessions;
// nothing per session or per event is kept. Measured here: +0.17 MB over a 45 s drain (chart
// points, compiled code). 1 MB is six times that; a page that fetched the sessions (1M x ~100 B)
// passes it at once, one that kept ~4 KB per event within the drain (keeping a 2 KB string per
// event measured +0.5 MB). Smaller per-event leaks in the DOM are the node check's to catch.
const HEAP_GROWTH_BOUND = 1024 * 1024;
// The DOM is the same elements re-rendered (counters, one page of rows, at most 20 errors). Nodes
// a re-render detached are freed lazily by Blink, so one sample can be a page of rows (~600
// nodes) high for a moment; the medians of the first and last ten samples leave those out. A node
// added per event (10 batch.progress a second) would pass the bound in 10 s.
const NODE_GROWTH_BOUND = 100;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
// A hang guard, not a time bound: the drain fails only when the completed count stands still this
// long (a loaded 2-core machine makes the drain as slow as it likes, but never stops it).
const STALL_TIMEOUT_MS = 120_000;

// `batchd watch ID` in a 130x4 pseudo-terminal (util-linux `script`), its raw output collected.
function watchInTerminal(binary, base, id) {
  const command = `stty cols 130 rows 4; exec '${binary}' watch --server ${base} ${id}`;
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', (d) => out.push(d));
  return { child, output: () => Buffer.concat(out).toString() };
}

// What a terminal shows after `raw`: enough of one to render the CLI (\r, \n, ESC[K; other escape
// sequences are dropped).
function terminalScreen(raw) {
  const lines = [''];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    const last = lines.length - 1;
    if (c === '\r') col = 0;
    else if (c === '\n') { lines.push(''); col = 0; }
    else if (c === '\x1b') {
      const m = /^\x1b\[[0-9;?]*([A-Za-z])/.exec(raw.slice(i));
      if (m && m[1] === 'K') lines[last] = lines[last].slice(0, col);
      i += m ? m[0].length - 1 : 0;
    } else if (c >= ' ') {
      lines[last] = lines[last].padEnd(col).slice(0, col) + c + lines[last].slice(col + 1);
      col++;
    }
  }
  return lines.join('\n').replace(/\n+$/, '');
}

// The README's two screenshots (--readme-images DIR): the batch page mid-run, and what the
// terminal running `batchd watch` shows at the same moment, rendered as a terminal would.
async function readmeImages(termContext, page, dir, id, rawTerminal) {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'dashboard-batch.png') });
  const term = await termContext.newPage();
  await term.setContent(`<body style="margin:0"><div id="term" style="background:#1e1e1e"><div style="padding:8px 14px;
    background:#323232;color:#bbb;font:13px system-ui">batchd watch ${id} — in a 130×4 pseudo-terminal</div><pre
    style="margin:0;padding:10px 14px;height:4lh;color:#e6e6e6;font:12px/1.4 'DejaVu Sans Mono',monospace"></pre></div></body>`);
  await term.$eval('pre', (pre, text) => { pre.textContent = text; }, terminalScreen(rawTerminal));
  await (await term.$('#term')).screenshot({ path: join(dir, 'cli-watch.png') });
  await termContext.close();
}

async function main() {
  const opts = args();
  mkdirSync(opts.artifacts, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'batchd-big-batch-'));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const { chromium } = await loadPlaywright();
  let daemon = null;
  let watcher = null;
  let browser = null;
  let context = null;
  let page = null;
  let step = 0;
  const started = Date.now();
  const figures = { sessions: SESSIONS, slots: SLOTS, load_ms: {}, heap_mb: [], nodes: [] };
  const shot = (name) => page.screenshot({ path: join(opts.artifacts, `big-${String(step).padStart(2, '0')}-${name}.png`) });
  const ok = (what) => console.log(`ok ${step} - ${what}`);

  try {
    daemon = await startDaemon(opts.batchd, dataDir, ['--max-sessions-per-batch', String(SESSIONS)],
                                 { slots: SLOTS, logLevel: 'info' });
    const base = `http://127.0.0.1:${daemon.port}`;
    const rest = async (method, path, body) => {
      const r = await fetch(base + path, { method, body: body && JSON.stringify(body) });
      const json = await r.json();
      assert(r.ok, `${method} ${path}: HTTP ${r.status} ${JSON.stringify(json)}`);
      return json;
    };

    // 1. A million noop sessions (1000 x 1000, as bench/submit_bench.py builds them).
    step = 1;
    const range = (n) => Array.from({ length: n }, (_, i) => i);
    const t0 = Date.now();
    const batch = await rest('POST', '/api/v1/batches', {
      name: 'a million noops', template: { op: 'noop', x: 0, y: 0 },
      data: [[{ field: '/x', items: range(1000) }], [{ field: '/y', items: range(1000) }]],
    });
    figures.submit_ms = Date.now() - t0;
    assert(batch.sessions === SESSIONS, `the batch has ${batch.sessions} sessions`);
    ok(`a batch of ${SESSIONS.toLocaleString('en-US')} sessions (${batch.id}) submitted in ${figures.submit_ms} ms`);

    browser = await chromium.launch({
      executablePath: opts.chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync'],
    });
    // The watched page has a browser context (so a renderer process and JS heap) of its own; the
    // pages timed at half way are opened in another one and do not show in its heap.
    const newContext = () => browser.newContext({ viewport: { width: 1000, height: 760 } });
    context = await newContext();
    context.setDefaultTimeout(30_000);
    page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // A fresh navigation of `tab` to `url`; the time is the page's own performance.now() (ms
    // since its navigation started) at the first animation frame where `ready` holds.
    const shown = async (tab, url, ready) => {
      await tab.goto('about:blank');
      await tab.goto(url, { waitUntil: 'commit' });
      return Math.round(await (await tab.waitForFunction(ready, batch.id, { polling: 'raf' })).jsonValue());
    };
    const listReady = (id) => {
      const label = document.querySelector(`[data-testid=batch-row][data-batch="${id}"] .bar-label`);
      return label?.textContent.endsWith('/1,000,000') && performance.now();
    };
    // Counters, bar, the first page of sessions and the throughput history are all shown.
    const batchReady = () => {
      const chartCaption = document.querySelector('[data-testid=chart]')?.nextSibling?.textContent || '';
      return document.querySelector('[data-testid=stat-sessions] b')?.textContent === '1,000,000'
        && document.querySelector('.big-bar .bar-label')?.textContent.endsWith('/1,000,000')
        && document.querySelectorAll('[data-testid=sessions] tbody tr').length === 50
        && / samples$/.test(chartCaption) && performance.now();
    };

    // 2. Mid-run, in a second tab (the first keeps watching): the list, the batch page, and its
    //    sessions table's next page (keyset cursor) and waiting sessions (behind every finished
    //    one), the last two timed from the click to the frame that shows the new rows.
    const measureLoads = async () => {
      const other = await newContext();
      other.setDefaultTimeout(30_000);
      const tab = await other.newPage();
      tab.on('pageerror', (e) => pageErrors.push(e.message));
      const load = figures.load_ms;
      load.list = await shown(tab, `${base}/`, listReady);
      await tab.screenshot({ path: join(opts.artifacts, 'big-02-list.png') });
      load.batch = await shown(tab, `${base}/#/batch/${batch.id}`, batchReady);
      // From a click (made in the page, so Playwright's own round trips are not counted) to the
      // first frame with 50 new rows, all in `state` when one is given.
      const timedChange = async (act, state) => {
        const before = await tab.textContent('[data-testid=sessions] tbody tr td');
        await tab.evaluate(act);
        const at = await tab.waitForFunction(({ before, state }) => {
          const rows = [...document.querySelectorAll('[data-testid=sessions] tbody tr')];
          return rows.length === 50 && rows[0].firstChild.textContent !== before
            && (!state || rows.every((r) => r.querySelector(`.badge.${state}`))) && performance.now() - window.clickedAt;
        }, { before, state }, { polling: 'raf' });
        return Math.round(await at.jsonValue());
      };
      load.sessions_next = await timedChange(() => {
        window.clickedAt = performance.now();
        document.querySelector('[data-testid=sessions-next]').click();
      });
      load.sessions_waiting = await timedChange(() => {
        window.clickedAt = performance.now();
        const filter = document.querySelector('[data-testid=session-filter]');
        filter.value = 'uninitialized';
        filter.dispatchEvent(new Event('change'));
      }, 'uninitialized');
      await tab.screenshot({ path: join(opts.artifacts, 'big-02-sessions-waiting.png') });
      await other.close();
      for (const k of ['list', 'batch', 'sessions_next', 'sessions_waiting']) {
        assert(Number.isFinite(load[k]), `${k} never showed its data`);
      }
    };

    // 3. The batch page follows the drain to the end; heap and DOM sampled every second.
    step = 3;
    await shown(page, `${base}/#/batch/${batch.id}`, batchReady);
    if (opts['readme-images']) watcher = watchInTerminal(opts.batchd, base, batch.id);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const sample = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const m = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value]));
      figures.heap_mb.push(+(m.JSHeapUsedSize / 1048576).toFixed(2));
      figures.nodes.push(m.Nodes);
      return m;
    };
    // Playwright's selector engine lives in the page's JS heap once first used: load it before
    // the first sample, so the samples show the dashboard, not the test (~0.6 MB).
    await page.textContent('[data-testid=batch-state]');
    await page.getAttribute('[data-testid=progress]', 'aria-valuenow');
    const first = await sample();
    let readmeShot = !opts['readme-images'];
    let lastCompleted = null;
    let lastChangeAt = Date.now();
    for (;;) {
      await page.waitForTimeout(1000);
      await sample();
      const state = await page.textContent('[data-testid=batch-state]');
      if (state === 'completed') break;
      assert(state === 'running', `the batch is ${state}`);
      const completed = await page.textContent('[data-testid=stat-completed] b');
      if (completed !== lastCompleted) {
        lastCompleted = completed;
        lastChangeAt = Date.now();
      }
      assert(Date.now() - lastChangeAt < STALL_TIMEOUT_MS,
             `the batch stood still at ${completed} completed for ${STALL_TIMEOUT_MS / 1000} s`);
      const pct = Number(await page.getAttribute('[data-testid=progress]', 'aria-valuenow'));
      if (!readmeShot && pct >= 40) {
        readmeShot = true;
        await readmeImages(await newContext(), page, opts['readme-images'], batch.id, watcher.output());
      }
      if (pct >= 50 && !figures.load_ms.list) {
        step = 2;
        figures.loads_at_done = pct / 100;
        await measureLoads();
        ok(`with ${pct}% done, each page showed its data (ms, target ${LOAD_TARGET_MS}): ${JSON.stringify(figures.load_ms)}`);
        await shot('draining');
        step = 3;
      }
    }
    for (let i = 0; i < 2; i++) { await page.waitForTimeout(1000); await sample(); }  // settled after the end
    await shot('completed');
    assert(figures.load_ms.list, 'the drain ended before the pages were timed at 50%');
    const final = await rest('GET', `/api/v1/batches/${batch.id}`);
    assert(final.state === 'completed' && final.counts.completed === SESSIONS, `REST says ${JSON.stringify(final.counts)}`);
    assert((await page.textContent('[data-testid=stat-completed] b')) === '1,000,000', 'the page does not show 1,000,000 completed');
    const heapGrowth = Math.max(...figures.heap_mb) * 1048576 - first.JSHeapUsedSize;
    const nodeGrowth = median(figures.nodes.slice(-10)) - median(figures.nodes.slice(0, 10));
    assert(figures.heap_mb.length >= 10, `only ${figures.heap_mb.length} samples: the drain was too short to judge`);
    assert(heapGrowth < HEAP_GROWTH_BOUND, `the JS heap grew by ${(heapGrowth / 1048576).toFixed(2)} MB: ${figures.heap_mb.join(' ')}`);
    assert(nodeGrowth < NODE_GROWTH_BOUND, `the DOM grew by ${nodeGrowth} nodes (medians of the first and last 10 samples): ${figures.nodes.join(' ')}`);
    assert(pageErrors.length === 0, `JavaScript errors on the page: ${pageErrors.join('; ')}`);
    ok(`the page followed the drain to 100% live over ${figures.heap_mb.length} s; heap after GC `
       + `${figures.heap_mb[0]} -> max ${Math.max(...figures.heap_mb)} -> ${figures.heap_mb.at(-1)} MB `
       + `(bound +${HEAP_GROWTH_BOUND / 1048576} MB), DOM nodes median ${median(figures.nodes.slice(0, 10))} -> `
       + `${median(figures.nodes.slice(-10))} (bound +${NODE_GROWTH_BOUND}; max ${Math.max(...figures.nodes)})`);
    figures.test_s = Math.round((Date.now() - started) / 1000);
    console.log(`# all steps passed in ${figures.test_s} s; screenshots in ${opts.artifacts}`);
    console.log(JSON.stringify({ test: 'browser_big_batch', load_target_ms: LOAD_TARGET_MS, ...figures }));
  } catch (err) {
    console.log(`not ok ${step} - ${err.message}`);
    if (page) await page.screenshot({ path: join(opts.artifacts, `big-failure-step-${step}.png`) }).catch(() => {});
    if (daemon) console.log('# --- batchd log ---\n' + daemon.log().split('\n').slice(-40).join('\n'));
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopProcess(watcher?.child);
    await stopProcess(daemon?.child);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
