// The daemons sharing the store (GET /api/v1/nodes): state, slots, running sessions and how old
// each one's heartbeat is. Nodes send no events, so the card asks again every few seconds while
// it is shown; with the embedded store it lists this daemon alone.
import { listNodes } from '../api.js';
import { el, fmt } from '../format.js';

const REFRESH_MS = 3000;

export function nodesCard() {
  const body = el('tbody');
  const note = el('p', { class: 'muted', hidden: true });
  const card = el('div', { class: 'card', 'data-testid': 'nodes' },
    el('h2', {}, 'Nodes'),
    el('table', {},
      el('thead', {}, el('tr', {}, el('th', {}, 'Node'), el('th', {}, 'State'),
        el('th', { class: 'num' }, 'Slots'), el('th', { class: 'num' }, 'Running'),
        el('th', { class: 'num' }, 'Heartbeat'), el('th', {}, 'Listen'))),
      body),
    note);

  function row(n) {
    const age = n.state === 'alive' ? `${(n.heartbeat_age_ms / 1000).toFixed(1)} s ago` : '–';
    const rescued = n.state === 'dead' && n.rescued_by != null
      ? el('div', { class: 'muted' }, `${fmt(n.rescued)} sessions resumed by node ${n.rescued_by}`) : null;
    return el('tr', { 'data-testid': 'node-row', dataset: { node: String(n.id), state: n.state } },
      el('td', {}, el('span', { class: 'mono' }, n.name), rescued),
      el('td', {}, el('span', { class: `badge ${n.state === 'alive' ? 'running' : n.state === 'dead' ? 'failed' : 'canceled'}` }, n.state)),
      el('td', { class: 'num' }, fmt(n.slots)),
      el('td', { class: 'num', 'data-testid': 'node-running' }, fmt(n.running)),
      el('td', { class: 'num' }, age),
      el('td', { class: 'mono muted' }, n.listen));
  }

  let timer = null;
  let stopped = false;
  async function refresh() {
    try {
      const nodes = await listNodes();
      body.replaceChildren(...nodes.items.map(row));
      note.hidden = true;
    } catch (err) {
      note.textContent = `Could not load nodes: ${err.message}`;
      note.hidden = false;
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
  return { card, stop: () => { stopped = true; clearTimeout(timer); } };
}
