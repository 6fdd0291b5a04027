// A batch's sessions, a page at a time (never all of them: a batch may have millions), filtered
// by state, with the visible rows kept current by session.state events. Clicking a row selects
// the session.
import { listSessions } from '../api.js';
import { el, fmt } from '../format.js';

const PAGE = 50;
const STATES = ['', 'uninitialized', 'in_progress', 'completed', 'error', 'canceled'];

export function sessionsTable(batchId, { onSelect }) {
  const filter = el('select', { 'data-testid': 'session-filter', 'aria-label': 'filter by state' },
    STATES.map((s) => el('option', { value: s }, s || 'all states')));
  const refresh = el('button', { type: 'button' }, 'Refresh');
  const body = el('tbody');
  const status = el('span', { class: 'muted' });
  const prev = el('button', { type: 'button', 'data-testid': 'sessions-prev' }, '← Previous');
  const next = el('button', { type: 'button', 'data-testid': 'sessions-next' }, 'Next →');
  const root = el('div', {},
    el('div', { class: 'row' }, el('h2', { class: 'grow' }, 'Sessions'), filter, refresh),
    el('table', { 'data-testid': 'sessions' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Session'), el('th', { class: 'num' }, 'Ordinal'),
        el('th', {}, 'State'), el('th', { class: 'num' }, 'Attempts'))),
      body),
    el('div', { class: 'pager' }, status, prev, next));

  // Cursors of the pages visited: cursors[k] is the cursor that loads page k.
  let cursors = [null];
  let page = 0;
  let nextCursor = null;
  const rows = new Map();  // session id -> its state cell
  let selected = null;

  async function load() {
    const query = { limit: String(PAGE) };
    if (filter.value) query.state = filter.value;
    if (cursors[page]) query.cursor = cursors[page];
    status.textContent = 'loading…';
    try {
      const p = await listSessions(batchId, query);
      nextCursor = p.next_cursor;
      rows.clear();
      body.replaceChildren(...p.items.map(row));
      status.textContent = p.items.length
        ? `page ${page + 1} · sessions ${fmt(p.items[0].ordinal)}–${fmt(p.items[p.items.length - 1].ordinal)} (by ordinal)`
        : 'no sessions in this state';
    } catch (err) {
      status.textContent = `could not load sessions: ${err.message}`;
    }
    prev.disabled = page === 0;
    next.disabled = !nextCursor;
  }

  function row(s) {
    const state = el('span', { class: `badge ${s.state}` }, s.state);
    const attempts = el('td', { class: 'num' }, fmt(s.attempts));
    const tr = el('tr', { class: 'clickable' + (s.id === selected ? ' selected' : ''), dataset: { session: s.id } },
      el('td', {}, `#${s.id}`), el('td', { class: 'num' }, fmt(s.ordinal)), el('td', {}, state), attempts);
    tr.addEventListener('click', () => {
      selected = s.id;
      body.querySelectorAll('tr.selected').forEach((r) => r.classList.remove('selected'));
      tr.classList.add('selected');
      onSelect(s.id);
    });
    rows.set(s.id, { state, attempts });
    return tr;
  }

  filter.addEventListener('change', () => { cursors = [null]; page = 0; load(); });
  refresh.addEventListener('click', load);
  prev.addEventListener('click', () => { page = Math.max(0, page - 1); load(); });
  next.addEventListener('click', () => { cursors[page + 1] = nextCursor; page++; load(); });

  // A session.state event about a visible row updates it in place (the page stays put).
  root.apply = (event) => {
    const r = rows.get(event.session);
    if (!r) return;
    r.state.className = `badge ${event.to}`;
    r.state.textContent = event.to;
    if (event.attempt != null) r.attempts.textContent = fmt(event.attempt);
  };
  root.reload = load;
  load();
  return root;
}
