// What the browser tests share: their arguments, playwright-core (driving Debian's Chromium, no
// browser download), the real daemon on a port it picks itself, and a headless browser.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const STEP_TIMEOUT_MS = 30_000;

// --batchd BINARY --artifacts DIR [--chromium PATH]
export function args() {
  const out = { batchd: join(here, '../../build/daemon/batchd'), artifacts: join(here, '../../build/test-artifacts/browser'),
                chromium: '/usr/bin/chromium' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

export async function loadPlaywright() {
  const entry = join(here, 'node_modules/playwright-core/index.mjs');
  if (!existsSync(entry)) {
    throw new Error(`playwright-core is not installed: run "npm ci" in ${here} (scripts/test.sh does)`);
  }
  return import(entry);
}

// Starts `batchd serve` on 127.0.0.1 with a port of its choosing (read from DATA_DIR/batchd.port),
// with `extra` arguments after the standard ones.
export async function startDaemon(binary, dataDir, extra = [], { slots = 4, logLevel = 'debug' } = {}) {
  const log = join(dataDir, 'batchd.log');
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--slots', String(slots),
                               '--log-level', logLevel, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  child.stdout.on('data', (d) => chunks.push(d));
  child.stderr.on('data', (d) => chunks.push(d));
  const portFile = join(dataDir, 'batchd.port');
  const deadline = Date.now() + 60_000;  // a hang guard; a loaded machine starts it in well under that
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`batchd exited early:\n${Buffer.concat(chunks)}`);
    if (existsSync(portFile)) {
      const text = readFileSync(portFile, 'utf8');
      if (text.endsWith('\n')) {
        return { child, port: Number(text.trim()), log: () => { writeFileSync(log, Buffer.concat(chunks)); return Buffer.concat(chunks).toString(); } };
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  throw new Error('batchd did not publish its port within 60 s');
}

// SIGTERM, then SIGKILL if it has not exited within 20 s; nothing if it already has.
export async function stopProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

export async function stopDaemon(daemon) {
  await stopProcess(daemon?.child);
}

// Headless Chromium with a fresh profile under `work`; returns the context.
export async function launchBrowser(chromium, executablePath, work) {
  const context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  return context;
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}
