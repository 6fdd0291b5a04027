// Submitting a batch: a JSON editor prefilled from examples; the server's validation error is
// shown at the offending field (its JSON Pointer located in the text), and a success goes to
// the new batch's page.
import { submitBatch } from '../api.js';
import { el } from '../format.js';
import { jsonEditor } from '../parts/json_editor.js';
import { lineOf, locatePointer } from '../parts/json_locate.js';

const EXAMPLES = {
  'Noop grid: 3 × 2 values × 2 runs = 12 sessions': {
    name: 'demo', runs: 2,
    template: { op: 'noop', source: { url: 'file:///data/a.zarr/t2m' }, level: 0 },
    data: [
      [{ field: '/source/url', items: ['file:///data/a.zarr/t2m', 'file:///data/a.zarr/u10', 'file:///data/a.zarr/v10'] }],
      [{ field: '/level', items: [500, 850] }],
    ],
  },
  'Sleeps with chunk progress (watch the chunk map)': {
    name: 'chunky sleeps', max_running: 2,
    template: { op: 'sleep', ms: 4000, chunks: 120, n: 0 },
    data: [[{ field: '/n', items: [1, 2, 3, 4, 5, 6] }]],
  },
  'Transient failures that succeed on retry, and permanent ones': {
    name: 'flaky', max_attempts: 3,
    template: { op: 'fail', kind: 'transient', until_attempt: 2, message: 'store busy', n: 0 },
    data: [
      [{ field: '/kind', items: ['transient', 'transient', 'permanent'] },
       { field: '/n', items: [1, 2, 3] }],
    ],
  },
  'A mistake, to see how errors are shown': {
    name: 'typo',
    template: { op: 'noop', x: 1 },
    data: [[{ field: '/y', items: [1, 2] }]],
  },
};

// Where JSON.parse says the text broke, as an offset (Chrome words it two ways).
function parseErrorOffset(text, message) {
  const position = /position (\d+)/.exec(message);
  if (position) return Number(position[1]);
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  if (lineCol) {
    const lines = text.split('\n').slice(0, Number(lineCol[1]) - 1);
    return lines.reduce((n, l) => n + l.length + 1, 0) + Number(lineCol[2]) - 1;
  }
  return 0;
}

export function mountSubmit(root) {
  const names = Object.keys(EXAMPLES);
  const examples = el('select', { 'data-testid': 'examples', 'aria-label': 'example' },
    names.map((n) => el('option', { value: n }, n)));
  const editor = jsonEditor(JSON.stringify(EXAMPLES[names[0]], null, 2));
  const notice = el('div', { 'data-testid': 'submit-notice' });
  const submit = el('button', { class: 'primary', type: 'button', 'data-testid': 'submit' }, 'Submit');

  root.replaceChildren(
    el('h1', {}, 'Submit a batch'),
    el('p', { class: 'muted' }, 'A template, and lists of values for its fields: the batch runs one session per '
      + 'combination (docs/api.md). Start from an example.'),
    el('div', { class: 'card' },
      el('div', { class: 'row' }, el('span', {}, 'Example'), examples, el('span', { class: 'grow' }), submit),
      el('div', { style: 'height: 10px' }), notice, editor));

  examples.addEventListener('change', () => {
    notice.replaceChildren();
    editor.setValue(JSON.stringify(EXAMPLES[examples.value], null, 2));
  });

  function fail(message, start, end, line) {
    notice.replaceChildren(el('div', { class: 'notice error', 'data-testid': 'submit-error' }, message));
    editor.showError({ line, message, start, end });
  }

  submit.addEventListener('click', async () => {
    notice.replaceChildren();
    editor.clearError();
    const text = editor.value();
    try {
      JSON.parse(text);
    } catch (err) {
      const at = parseErrorOffset(text, err.message);
      return fail(`Not JSON: ${err.message}`, at, at + 1, lineOf(text, at));
    }
    submit.disabled = true;
    try {
      const created = await submitBatch(text);
      location.hash = `#/batch/${created.id}`;
    } catch (err) {
      const where = err.path ? locatePointer(text, err.path) : null;
      const message = `${err.code}${err.path ? ' at ' + err.path : ''}: ${err.message}`;
      if (where) {
        fail(message, where.start, where.end, lineOf(text, where.start));
      } else {
        notice.replaceChildren(el('div', { class: 'notice error', 'data-testid': 'submit-error' }, message));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return () => {};
}
