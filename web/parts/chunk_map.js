// Which chunks of a running session are done, from its session.progress events. Large chunk
// counts are binned so the map stays at most MAX_CELLS cells: a bin is full, partly done, or
// empty.
import { el, fmt } from '../format.js';

const MAX_CELLS = 1024;

export function chunkMap() {
  const title = el('div', { class: 'muted', 'data-testid': 'chunk-map-title' },
    'No running session has reported chunk progress yet (noop and sleep ops have no chunks).');
  const grid = el('div', { class: 'chunk-map', 'data-testid': 'chunk-map' });
  const root = el('div', {}, title, grid);

  root.show = (progress) => {
    const total = progress.chunks_total || 0;
    const doneCount = progress.chunks_done || 0;
    title.textContent = `Session ${progress.session}: ${fmt(doneCount)} of ${fmt(total)} chunks done`;
    grid.replaceChildren();
    if (total <= 0) return;
    const cells = Math.min(total, MAX_CELLS);
    const perCell = total / cells;
    const filled = new Float64Array(cells);
    const ranges = progress.done_ranges
      // No map (too scattered to send): show the count as the first chunks.
      || (doneCount > 0 ? [[0, doneCount]] : []);
    for (const [first, end] of ranges) {
      for (let c = Math.floor(first / perCell); c < cells && c * perCell < end; c++) {
        const lo = Math.max(first, c * perCell), hi = Math.min(end, (c + 1) * perCell);
        if (hi > lo) filled[c] += (hi - lo) / perCell;
      }
    }
    grid.style.gridTemplateColumns = `repeat(${Math.min(cells, 64)}, 1fr)`;
    for (let c = 0; c < cells; c++) {
      const f = filled[c];
      grid.append(el('i', { class: f >= 0.999 ? 'done' : f > 0 ? 'part' : '' }));
    }
    grid.dataset.done = String(doneCount);
    grid.dataset.total = String(total);
  };
  return root;
}
