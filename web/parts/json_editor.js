// A plain JSON editor: a textarea with line numbers, and an error shown at a line (the gutter
// marks it, a message sits right under it, the offending text is selected).
import { el } from '../format.js';

const LINE_HEIGHT = 20;  // px, as in style.css
const PADDING = 10;

export function jsonEditor(initial = '') {
  const gutter = el('div', { class: 'gutter', 'aria-hidden': 'true' });
  const area = el('textarea', { spellcheck: 'false', 'data-testid': 'editor', 'aria-label': 'batch JSON' });
  const note = el('div', { class: 'field-error', 'data-testid': 'field-error', hidden: true });
  const root = el('div', { class: 'editor' }, gutter, area, note);
  let error = null;  // {line, message}

  function renderGutter() {
    const lines = area.value.split('\n').length;
    const out = [];
    for (let n = 1; n <= lines; n++) {
      out.push(error && error.line === n ? `<span class="mark" data-testid="error-line">${n}</span>` : String(n));
    }
    gutter.innerHTML = out.join('\n');
    gutter.scrollTop = area.scrollTop;
  }

  function placeNote() {
    if (!error) return;
    note.style.top = `${PADDING + (error.line - 1) * LINE_HEIGHT - area.scrollTop}px`;
  }

  area.addEventListener('input', () => { root.clearError(); renderGutter(); });
  area.addEventListener('scroll', () => { gutter.scrollTop = area.scrollTop; placeNote(); });

  root.value = () => area.value;
  root.setValue = (text) => { area.value = text; root.clearError(); renderGutter(); };
  // Marks `line` (1-based) with `message`, and selects [start, end) when given.
  root.showError = ({ line, message, start, end }) => {
    error = { line, message };
    note.textContent = message;
    note.hidden = false;
    note.dataset.line = String(line);
    renderGutter();
    area.scrollTop = Math.max(0, (line - 5) * LINE_HEIGHT);
    placeNote();
    if (start != null) {
      area.focus();
      area.setSelectionRange(start, end ?? start);
    }
  };
  root.clearError = () => {
    error = null;
    note.hidden = true;
    renderGutter();
  };
  root.setValue(initial);
  return root;
}
