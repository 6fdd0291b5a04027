// A subscription to the event stream (GET /api/v1/events as a WebSocket) that survives dropped
// connections: it remembers the seq of the last event it handled and reconnects with
// since=<that seq>, so every event arrives exactly once and counters never go wrong; when the
// server answers `resync` (the events missed are no longer kept), it asks its owner to refetch.
// With a token (auth.js) it offers the subprotocols `batchd.events` and `bearer.<token>`:
// browsers cannot set an Authorization header on a WebSocket.
import { token } from './auth.js';

const feeds = new Set();

// The connection indicator in the header shows the worst state of the open feeds.
function showStatus() {
  const el = document.querySelector('[data-testid="connection"]');
  if (!el) return;
  const states = [...feeds].map((f) => f.status);
  const state = states.includes('reconnecting') ? 'reconnecting'
    : states.includes('connecting') ? 'connecting' : 'live';
  el.dataset.state = state;
  el.textContent = { live: 'live', connecting: 'connecting…', reconnecting: 'reconnecting…' }[state];
}

export class EventFeed {
  // `params`: {batch, session, types} as the endpoint takes them. `handlers`: onEvent(event)
  // for each event in seq order; onResync() when state must be refetched over REST.
  constructor(params, handlers) {
    this.params = params;
    this.handlers = handlers;
    this.lastSeq = null;
    this.status = 'connecting';
    this.delay = 250;
    this.reconnects = 0;
    this.stopped = false;
  }

  start() {
    feeds.add(this);
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    feeds.delete(this);
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'page left');
    showStatus();
  }

  connect() {
    const query = new URLSearchParams(Object.entries(this.params).filter(([, v]) => v != null));
    if (this.lastSeq !== null) query.set('since', String(this.lastSeq));
    const url = location.origin.replace(/^http/, 'ws') + '/api/v1/events?' + query;
    const ws = token() ? new WebSocket(url, ['batchd.events', `bearer.${token()}`]) : new WebSocket(url);
    this.ws = ws;
    ws.onmessage = (m) => this.receive(JSON.parse(m.data));
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.status = 'reconnecting';
      showStatus();
      this.timer = setTimeout(() => { this.reconnects++; this.connect(); }, this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }

  receive(m) {
    if (m.type === 'hello') {
      if (this.lastSeq === null) this.lastSeq = m.latest_seq;
      this.status = 'live';
      this.delay = 250;
      showStatus();
      return;
    }
    if (m.type === 'resync') {
      this.lastSeq = m.latest_seq;
      this.handlers.onResync?.(m);
      return;
    }
    if (m.type === 'caught_up') {
      this.lastSeq = Math.max(this.lastSeq ?? 0, m.latest_seq);
      return;
    }
    if (typeof m.seq !== 'number' || (this.lastSeq !== null && m.seq <= this.lastSeq)) return;
    this.lastSeq = m.seq;
    this.handlers.onEvent?.(m);
  }
}

// For tests and for people poking at the console: drop every connection as a network would;
// the feeds reconnect by themselves.
window.batchd = Object.assign(window.batchd || {}, {
  dropConnections() { for (const f of feeds) f.ws?.close(4000, 'dropped on purpose'); },
  feeds,
});
