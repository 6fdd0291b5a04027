// How numbers, times and errors read on the dashboard.

export const fmt = (n) => (n ?? 0).toLocaleString('en-US');

export function percent(done, total) {
  return total > 0 ? (100 * done) / total : 100;
}

export function rate(perSecond) {
  if (perSecond == null) return '–';
  return (perSecond >= 100 ? fmt(Math.round(perSecond)) : perSecond.toFixed(1)) + '/s';
}

export function duration(seconds) {
  if (seconds == null) return '–';
  const s = Math.ceil(Math.max(0, seconds));
  const pad = (n) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
  if (s >= 60) return `${Math.floor(s / 60)}:${pad(s % 60)}`;
  return `${s}s`;
}

export function time(iso) {
  if (!iso) return '–';
  return new Date(iso).toLocaleString();
}

export const done = (c) => (c.completed || 0) + (c.error || 0) + (c.canceled || 0);
export const finished = (state) => ['completed', 'failed', 'canceled'].includes(state);

// A session's error as a person would say it.
export function describeError(error, { attempt, to, retryAt } = {}) {
  if (!error) return '';
  const tries = attempt ? ` (attempt ${attempt})` : '';
  switch (error.kind) {
    case 'permanent':
      return `Failed and will not be retried${tries}: ${error.message}`;
    case 'transient':
      if (to === 'uninitialized' || retryAt) {
        return `Failed for now${tries}; it will run again${retryAt ? ' at ' + time(retryAt) : ''}: ${error.message}`;
      }
      return `Kept failing and was given up${tries}: ${error.message}`;
    case 'timeout':
      return `Ran past its timeout_s and was killed${tries}: ${error.message}`;
    case 'canceled':
      return 'Canceled by request.';
    default:
      return `${error.kind}: ${error.message}`;
  }
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}
