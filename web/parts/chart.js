// Throughput over time: sessions finished per second, from batch.progress events, drawn on a
// canvas. Keeps the last MAX_POINTS points, in seq order whatever order they are added in (live
// events can arrive before the history read that precedes them), each event once.
import { el, rate } from '../format.js';

const MAX_POINTS = 600;

export function throughputChart() {
  const canvas = el('canvas', { class: 'chart', 'data-testid': 'chart' });
  const caption = el('div', { class: 'muted' }, 'No throughput measured yet.');
  const root = el('div', {}, canvas, caption);
  const points = [];  // [time ms, sessions/s, seq], by seq

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 600;
    const h = canvas.clientHeight || 160;
    canvas.width = w * dpr;
    canvas.height = h * dpr;
    const g = canvas.getContext('2d');
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    if (points.length < 2) return;
    const t0 = points[0][0], t1 = points[points.length - 1][0];
    const max = Math.max(...points.map((p) => p[1]), 1e-9);
    const x = (t) => 40 + ((w - 50) * (t - t0)) / Math.max(t1 - t0, 1);
    const y = (v) => h - 20 - ((h - 30) * v) / max;
    g.strokeStyle = '#e4e7ec';
    g.beginPath(); g.moveTo(40, y(0)); g.lineTo(w - 10, y(0)); g.stroke();
    g.fillStyle = '#667085';
    g.font = '11px system-ui';
    g.fillText(rate(max), 2, 14);
    g.fillText('0', 28, y(0) + 4);
    g.strokeStyle = '#2e6fd8';
    g.lineWidth = 2;
    g.beginPath();
    points.forEach(([t, v], i) => (i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
    g.stroke();
  }

  root.add = (event) => {
    if (event.sessions_per_s == null) return;
    let i = points.length;
    while (i > 0 && points[i - 1][2] > event.seq) i--;
    if (i > 0 && points[i - 1][2] === event.seq) return;
    points.splice(i, 0, [Date.parse(event.time), event.sessions_per_s, event.seq]);
    if (points.length > MAX_POINTS) points.shift();
    const last = points[points.length - 1][1];
    caption.textContent = `${rate(last)} now · ${points.length} samples`;
    draw();
  };
  root.redraw = draw;
  return root;
}
