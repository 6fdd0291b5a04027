// A batch's progress as one bar of its session states, with "52% 520/1,000" beside it.
import { el, fmt, percent, done } from '../format.js';

const SEGMENTS = ['completed', 'error', 'canceled', 'in_progress'];

export function progressBar(batch, { big = false } = {}) {
  const bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
                          'data-testid': 'progress' });
  for (const s of SEGMENTS) bar.append(el('span', { class: s }));
  const label = el('span', { class: 'bar-label' });
  const root = el('div', { class: 'row' + (big ? ' big-bar' : '') }, el('div', { class: 'grow' }, bar), label);
  root.update = (b) => {
    const c = b.counts || {};
    const total = b.sessions || 0;
    SEGMENTS.forEach((s, i) => {
      bar.children[i].style.width = total > 0 ? `${(100 * (c[s] || 0)) / total}%` : '0%';
    });
    if (total === 0) {  // not loaded yet (a stored batch has at least one session)
      bar.setAttribute('aria-valuenow', '0');
      label.textContent = '–';
      return;
    }
    const pct = percent(done(c), total);
    bar.setAttribute('aria-valuenow', String(Math.floor(pct)));
    bar.title = SEGMENTS.map((s) => `${s}: ${fmt(c[s])}`).join(', ');
    label.textContent = `${pct.toFixed(pct === 100 || pct === 0 ? 0 : 1)}%  ${fmt(done(c))}/${fmt(total)}`;
  };
  root.update(batch);
  return root;
}
