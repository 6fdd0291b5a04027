// A command session's log in the dashboard's session panel, live: a program prints a line and
// waits for a file; the panel shows that line while the program runs (the file does not exist
// yet, so the program cannot have ended); once the test creates the file, the second line
// appears and the log reads complete. Asserts text, never how soon it came (each wait is
// playwright's step timeout, a hang guard).
//
//   node tests/browser/session_log_test.mjs --batchd build/daemon/batchd --artifacts DIR
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { args, assert, launchBrowser, loadPlaywright, startDaemon, stopDaemon } from './harness.mjs';

const PROGRAM = [
  'import os, sys, time',
  "print('hello from the program', flush=True)",
  "print('a warning on stderr', file=sys.stderr, flush=True)",
  'while not os.path.exists(sys.argv[1]):',
  '    time.sleep(0.02)',
  "print('and its second line', flush=True)",
].join('\n');

async function main() {
  const opts = args();
  mkdirSync(opts.artifacts, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'batchd-browser-log-'));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const go = join(work, 'go');
  const { chromium } = await loadPlaywright();
  let daemon = null;
  let context = null;
  let page = null;
  let step = 0;
  const shot = async (name) => page.screenshot({ path: join(opts.artifacts, `log-${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  const ok = (what) => console.log(`ok ${step} - ${what}`);

  try {
    if (!existsSync('/usr/bin/python3')) throw new Error('/usr/bin/python3 is needed for the program');
    daemon = await startDaemon(opts.batchd, dataDir, ['--allow-command', '/usr/bin/python3']);
    const base = `http://127.0.0.1:${daemon.port}`;
    const rest = async (method, path, body) => {
      const r = await fetch(base + path, { method, body: body && JSON.stringify(body) });
      const json = await r.json();
      assert(r.ok, `${method} ${path}: HTTP ${r.status} ${JSON.stringify(json)}`);
      return json;
    };

    context = await launchBrowser(chromium, opts.chromium, work);
    page = context.pages()[0] || await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // 1. The running session's stdout and stderr appear in its panel.
    step = 1;
    const batch = await rest('POST', '/api/v1/batches', {
      name: 'log in the panel', max_attempts: 1,
      template: { op: 'command', argv: ['python3', '-c', PROGRAM, go] },
    });
    const sessions = await rest('GET', `/api/v1/batches/${batch.id}/sessions`);
    const session = sessions.items[0].id;
    await page.goto(`${base}/#/batch/${batch.id}`);
    await page.click(`[data-testid=sessions] tr[data-session="${session}"]`);
    await page.waitForSelector('[data-testid=session-log-stdout]:has-text("hello from the program")');
    await page.waitForSelector('[data-testid=session-log-stderr]:has-text("a warning on stderr")');
    assert(!existsSync(go), 'the program was let go before its first line was checked');
    const running = await rest('GET', `/api/v1/sessions/${session}`);
    assert(running.state === 'in_progress', `the session is ${running.state}, not in_progress, while its program waits`);
    await shot('first-line');
    ok('the panel shows the first line of a running program');

    // 2. The rest comes live, and the log ends complete.
    step = 2;
    writeFileSync(go, 'go');
    await page.waitForSelector('[data-testid=session-log-stdout]:has-text("and its second line")');
    await page.waitForSelector('[data-testid=session-log-stdout-state]:has-text("complete")');
    const text = await page.textContent('[data-testid=session-log-stdout]');
    assert(text === 'hello from the program\nand its second line\n', `the stdout shown is ${JSON.stringify(text)}`);
    await shot('complete');
    ok('the second line appears without a reload and the log reads complete');

    assert(pageErrors.length === 0, `JavaScript errors on the page: ${pageErrors.join('; ')}`);
    console.log(`# all ${step} steps passed; screenshots in ${opts.artifacts}`);
  } catch (err) {
    console.log(`not ok ${step} - ${err.message}`);
    if (page) await page.screenshot({ path: join(opts.artifacts, `log-failure-step-${step}.png`), fullPage: true }).catch(() => {});
    if (daemon) console.log('# --- batchd log ---\n' + daemon.log().split('\n').slice(-60).join('\n'));
    process.exitCode = 1;
  } finally {
    if (!existsSync(go)) writeFileSync(go, 'go');  // lets the program end before the daemon stops
    if (context) await context.close().catch(() => {});
    await stopDaemon(daemon);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
