// The batch list: newest first, a page at a time, each with its progress bar and state counts,
// kept live by batch events (new batches appear, bars move, finished ones settle).
import { listBatches } from '../api.js';
import { EventFeed } from '../events.js';
import { el, fmt, rate, time } from '../format.js';
import { nodesCard } from '../parts/nodes_card.js';
import { progressBar } from '../parts/progress_bar.js';

const PAGE = 25;
const STATES = ['', 'queued', 'running', 'paused', 'completed', 'failed', 'canceled'];

export function mountList(root) {
  const filter = el('select', { 'data-testid': 'state-filter', 'aria-label': 'filter by state' },
    STATES.map((s) => el('option', { value: s }, s || 'all states')));
  const body = el('tbody');
  const nodes = nodesCard();
  const more = el('button', { type: 'button', hidden: true }, 'Load more');
  const empty = el('p', { class: 'muted', hidden: true }, 'No batches yet. ',
    el('a', { href: '#/submit' }, 'Submit one.'));
  root.replaceChildren(
    el('div', { class: 'row' }, el('h1', { class: 'grow' }, 'Batches'), filter,
      el('a', { href: '#/submit' }, el('button', { class: 'primary', type: 'button' }, 'Submit a batch'))),
    el('div', { class: 'card' },
      el('table', { 'data-testid': 'batches' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Batch'), el('th', {}, 'State'),
          el('th', { style: 'width: 32%' }, 'Progress'), el('th', { class: 'num' }, 'Completed'),
          el('th', { class: 'num' }, 'Errors'), el('th', { class: 'num' }, 'Canceled'),
          el('th', { class: 'num' }, 'Rate'), el('th', {}, 'Created'))),
        body),
      empty, el('div', { class: 'pager' }, more)),
    nodes.card);

  const rows = new Map();  // batch id -> row controller
  let cursor = null;
  // Events that arrive while a page is being read wait for it; each row then takes only the
  // events newer than the read it was built from (its event_seq).
  let loading = 0;
  let waiting = [];

  function row(b) {
    const state = el('span', { class: `badge ${b.state}` }, b.state);
    const bar = progressBar(b);
    const cells = { completed: el('td', { class: 'num' }), error: el('td', { class: 'num' }),
                    canceled: el('td', { class: 'num' }), rate: el('td', { class: 'num' }, '–') };
    const tr = el('tr', { dataset: { batch: b.id }, 'data-testid': 'batch-row' },
      el('td', {}, el('a', { href: `#/batch/${b.id}` }, b.name || '(unnamed)'),
        el('div', { class: 'muted mono' }, b.id)),
      el('td', {}, state), el('td', {}, bar), cells.completed, cells.error, cells.canceled,
      cells.rate, el('td', { class: 'muted' }, time(b.created_at)));
    const update = (b) => {
      state.className = `badge ${b.state}`;
      state.textContent = b.state;
      bar.update(b);
      cells.completed.textContent = fmt(b.counts.completed);
      cells.error.textContent = fmt(b.counts.error);
      cells.canceled.textContent = fmt(b.counts.canceled);
      if ('sessions_per_s' in b) cells.rate.textContent = b.state === 'running' ? rate(b.sessions_per_s) : '–';
    };
    update(b);
    return { tr, update, batch: b, seq: b.event_seq ?? 0 };
  }

  function add(b, atTop) {
    if (rows.has(b.id)) return;
    const r = row(b);
    rows.set(b.id, r);
    if (atTop) body.prepend(r.tr); else body.append(r.tr);
    empty.hidden = true;
  }

  async function load(reset) {
    if (reset) {
      cursor = null;
      rows.clear();
      body.replaceChildren();
    }
    const query = { limit: String(PAGE) };
    if (filter.value) query.state = filter.value;
    if (cursor) query.cursor = cursor;
    loading++;
    try {
      const page = await listBatches(query);
      page.items.forEach((b) => add(b, false));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = rows.size > 0;
    } finally {
      if (--loading === 0) {
        const held = waiting;
        waiting = [];
        held.forEach(onEvent);
      }
    }
  }

  function onEvent(e) {
    if (loading > 0) {
      waiting.push(e);
      return;
    }
    if (e.type === 'batch.deleted') {
      rows.get(e.batch)?.tr.remove();
      rows.delete(e.batch);
      return;
    }
    const r = rows.get(e.batch);
    if (!r) {
      // A new batch: shown at the top if the filter lets it in.
      if (e.type === 'batch.enqueued' && (!filter.value || filter.value === e.state)) {
        add({ id: e.batch, name: e.name, state: e.state, sessions: e.sessions, counts: e.counts,
              created_at: e.time, event_seq: e.seq }, true);
      }
      return;
    }
    if (e.seq <= r.seq) return;  // the read the row shows already has it
    r.seq = e.seq;
    const b = { ...r.batch, state: e.state ?? r.batch.state, counts: e.counts ?? r.batch.counts };
    if (e.type === 'batch.progress') b.sessions_per_s = e.sessions_per_s;
    r.batch = b;
    r.update(b);
  }

  const feed = new EventFeed({ types: 'batch.*' }, { onEvent, onResync: () => load(true) }).start();

  filter.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  load(true).catch((err) => root.append(el('div', { class: 'notice error' }, `Could not load batches: ${err.message}`)));
  return () => {
    feed.stop();
    nodes.stop();
  };
}
