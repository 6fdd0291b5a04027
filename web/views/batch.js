// One batch: its counters and progress, throughput over time, errors in plain words, the chunk
// map of a running session, its sessions a page at a time, and the lifecycle buttons. Kept
// live by the batch's events; a dropped connection resumes with `since`, so counts stay right.
import { ApiError, batchAction, getBatch, readEvents, resultsUrl } from '../api.js';
import { token } from '../auth.js';
import { EventFeed } from '../events.js';
import { describeError, duration, el, finished, fmt, rate, time } from '../format.js';
import { throughputChart } from '../parts/chart.js';
import { chunkMap } from '../parts/chunk_map.js';
import { progressBar } from '../parts/progress_bar.js';
import { sessionPanel } from '../parts/session_panel.js';
import { sessionsTable } from '../parts/sessions_table.js';

const MAX_ERRORS_SHOWN = 20;

// Which lifecycle buttons make sense in a state (the daemon refuses the others with 409).
const ACTIONS = {
  pause: (b) => ['queued', 'running'].includes(b.state),
  resume: (b) => b.state === 'paused',
  cancel: (b) => !finished(b.state) && b.state !== 'enqueuing',
  retry: (b) => b.state !== 'enqueuing' && (b.counts.error > 0 || b.counts.canceled > 0),
};

export function mountBatch(root, id) {
  // Merging the REST reads with the event stream: a read carries the event seq it reflects
  // (event_seq); only events above the seq the view reflects are applied, and a read older than
  // the events already applied (it was answered after they arrived) is not.
  let batch = null;
  let seq = 0;
  let early = [];  // events that came before the first read
  let progress = {};  // the last batch.progress: rate and ETA
  let historySeq = 0;  // events up to here came from the history reads
  let pinned = null;   // the session whose chunk map is shown (else the latest reporting one)

  const title = el('h1', {}, id);
  const badge = el('span', { class: 'badge', 'data-testid': 'batch-state' });
  const notice = el('div', { 'data-testid': 'action-notice' });
  const buttons = Object.fromEntries(Object.keys(ACTIONS).map((a) => [a,
    el('button', { type: 'button', 'data-testid': `action-${a}`, class: a === 'cancel' ? 'danger' : '',
                   onclick: () => act(a) }, a[0].toUpperCase() + a.slice(1))]));
  const bar = progressBar({ sessions: 0, counts: {} }, { big: true });
  const stats = el('div', { class: 'stats', 'data-testid': 'stats' });
  const meta = el('p', { class: 'muted' });
  const result = el('pre', { class: 'mono', 'data-testid': 'batch-result' });
  const noResult = el('p', { class: 'muted', 'data-testid': 'batch-no-result' });
  const downloads = el('p', { 'data-testid': 'results-download' }, 'Every session\'s index, values, state, result and error: ',
    download('csv', 'CSV'), ' · ', download('jsonl', 'JSON lines'));
  const chart = throughputChart();
  const errors = el('ul', { class: 'errors-list', 'data-testid': 'errors' });
  const noErrors = el('p', { class: 'muted' }, 'No session has failed.');
  const map = chunkMap();
  const panel = sessionPanel();
  const table = sessionsTable(id, { onSelect: (s) => { pinned = s; panel.show(s); showChunks(s); } });

  root.replaceChildren(
    el('p', {}, el('a', { href: '#/' }, '← All batches')),
    el('div', { class: 'row' }, el('div', { class: 'grow' }, title, el('div', { class: 'muted mono' }, id)),
      badge, ...Object.values(buttons)),
    notice,
    el('div', { class: 'card' }, bar, el('div', { style: 'height: 12px' }), stats, meta),
    el('div', { class: 'card' }, el('h2', {}, 'Result'), noResult, result, downloads),
    el('div', { class: 'card' }, el('h2', {}, 'Throughput (sessions finished per second)'), chart),
    el('div', { class: 'card' }, el('h2', {}, 'Errors'), noErrors, errors),
    el('div', { class: 'card' }, el('h2', {}, 'Chunk map of a running session'), map),
    el('div', { class: 'card' }, table, el('hr', { style: 'border: 0; border-top: 1px solid #e4e7ec' }), panel));

  // A plain link lets the browser stream the export to disk. A daemon that wants a token gets
  // it as a header, which a link cannot send: the export is then fetched and handed over whole.
  function download(format, label) {
    const href = resultsUrl(id, format);
    const link = el('a', { href, download: `batch-${id}-results.${format}`, 'data-testid': `download-${format}` }, label);
    link.addEventListener('click', async (ev) => {
      const sent = token();
      if (!sent) return;
      ev.preventDefault();
      try {
        const response = await fetch(href, { headers: { Authorization: `Bearer ${sent}` } });
        if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
        const url = URL.createObjectURL(await response.blob());
        const a = el('a', { href: url, download: link.getAttribute('download') });
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      } catch (err) {
        notice.replaceChildren(el('div', { class: 'notice error' }, `Could not download the results: ${err.message}`));
      }
    });
    return link;
  }

  function renderResult() {
    const has = batch.result !== null && batch.result !== undefined;
    result.hidden = !has;
    result.textContent = has ? JSON.stringify(batch.result, null, 2) : '';
    noResult.hidden = has;
    noResult.textContent = finished(batch.state)
      ? 'This batch has no folded result (its op does not fold results, or no session completed).'
      : 'No result yet: it is folded as sessions complete.';
  }

  function stat(label, value, testid) {
    return el('div', { class: 'stat', 'data-testid': testid }, el('b', {}, value), el('span', {}, label));
  }

  function render() {
    if (!batch) return;
    const c = batch.counts;
    title.textContent = batch.name || '(unnamed batch)';
    badge.className = `badge ${batch.state}`;
    badge.textContent = batch.state;
    bar.update(batch);
    const running = batch.state === 'running';
    stats.replaceChildren(
      stat('sessions', fmt(batch.sessions), 'stat-sessions'),
      stat('completed', fmt(c.completed), 'stat-completed'),
      stat('errors', fmt(c.error), 'stat-error'),
      stat('canceled', fmt(c.canceled), 'stat-canceled'),
      stat('running', fmt(c.in_progress), 'stat-running'),
      stat('waiting', fmt(c.uninitialized), 'stat-waiting'),
      stat('rate', running ? rate(progress.sessions_per_s) : '–', 'stat-rate'),
      stat('time left', running ? duration(progress.eta_s) : '–', 'stat-eta'),
      progress.chunks_per_s != null && running
        ? stat('chunks/s', rate(progress.chunks_per_s).replace('/s', ''), 'stat-chunks') : '');
    meta.textContent = `priority ${batch.priority ?? 0} · created ${time(batch.created_at)}`
      + (batch.finished_at ? ` · finished ${time(batch.finished_at)}` : '')
      + (progress.session_events_suppressed ? ` · ${fmt(progress.session_events_suppressed)} session events not sent (rate limit)` : '');
    for (const [a, allowed] of Object.entries(ACTIONS)) buttons[a].disabled = !allowed(batch);
    renderResult();
  }

  async function act(action) {
    notice.replaceChildren();
    buttons[action].disabled = true;
    try {
      const after = await batchAction(id, action);
      takeRead(after);
      notice.replaceChildren(el('div', { class: 'notice ok' }, `${action}: the batch is now ${after.state}.`));
      table.reload();
    } catch (err) {
      notice.replaceChildren(el('div', { class: 'notice error' }, `Could not ${action}: ${err.message}`));
    }
    render();
  }

  function addError(e) {
    if (!e.error || e.error.kind === 'canceled') return;
    noErrors.hidden = true;
    const open = (ev) => { ev.preventDefault(); pinned = e.session; panel.show(e.session); };
    errors.prepend(el('li', {}, el('a', { href: `#/batch/${id}`, onclick: open }, `Session #${e.session}`), ' — ', describeError(e.error, { attempt: e.attempt, to: e.to, retryAt: e.retry_at }),
      el('span', { class: 'muted' }, ` (${time(e.time)})`)));
    while (errors.children.length > MAX_ERRORS_SHOWN) errors.lastChild.remove();
  }

  async function showChunks(session) {
    // With the batch too, so the read follows the batch's index instead of the whole log.
    const last = await readEvents({ batch: id, session, types: 'session.progress', tail: '1' })
      .catch(() => null);
    if (last?.items?.length) map.show(last.items[0]);
  }

  // A REST read of the batch: taken if at least as new as what is shown.
  function takeRead(b) {
    if (batch && b.event_seq < seq) return;
    batch = b;
    seq = b.event_seq;
  }

  function applyBatchEvent(e) {
    if (e.seq <= seq) return;  // already in the read shown
    seq = e.seq;
    if (e.type === 'batch.deleted') {
      notice.replaceChildren(el('div', { class: 'notice error' }, 'This batch was deleted.'));
      return;
    }
    batch = { ...batch, state: e.state ?? batch.state, counts: e.counts ?? batch.counts,
              finished_at: e.finished_at !== undefined ? e.finished_at : batch.finished_at };
    if (e.type === 'batch.progress') progress = e;
    if (e.type === 'batch.finished' || e.type === 'batch.state') table.reload();
    // Events carry counts, not the folded result: read it once the batch has finished.
    if (e.type === 'batch.finished') {
      getBatch(id).then((b) => { takeRead(b); render(); }).catch(() => {});
    }
  }

  async function loadAll() {
    takeRead(await getBatch(id));
    for (const e of early) applyBatchEvent(e);
    early = [];
    render();
    const [history, failures, chunks] = await Promise.all([
      readEvents({ batch: id, types: 'batch.progress', tail: '300' }),
      readEvents({ batch: id, types: 'session.state', tail: '200' }),
      readEvents({ batch: id, types: 'session.progress', tail: '1' }),
    ]);
    for (const e of history.items) {
      chart.add(e);
      if (e.seq > (progress.seq ?? 0)) progress = e;  // live events may already be newer
    }
    failures.items.forEach(addError);
    if (chunks.items.length) map.show(chunks.items[0]);
    historySeq = Math.max(history.latest_seq, failures.latest_seq, chunks.latest_seq);
    render();
  }

  const feed = new EventFeed({ batch: id }, {
    onEvent(e) {
      if (e.type.startsWith('batch.')) {
        if (e.type === 'batch.progress' && e.seq > historySeq) chart.add(e);
        if (!batch) {
          early.push(e);
          return;
        }
        applyBatchEvent(e);
        render();
      } else if (e.type === 'session.state') {
        table.apply(e);
        panel.apply(e);
        if (e.seq > historySeq) addError(e);
      } else if (e.type === 'session.progress') {
        if (pinned === null || pinned === e.session) map.show(e);
      }
    },
    onResync: () => { loadAll(); table.reload(); },
  }).start();

  loadAll().catch((err) => {
    notice.replaceChildren(el('div', { class: 'notice error' },
      err.status === 404 ? `There is no batch ${id}.` : `Could not load the batch: ${err.message}`));
  });
  const onResize = () => chart.redraw();
  window.addEventListener('resize', onResize);
  return () => { feed.stop(); window.removeEventListener('resize', onResize); };
}
