// A command session's stdout and stderr, followed live: each stream asks for the bytes past
// what it shows with follow=1 (the daemon holds the request until there are some, or the
// session ends), until the log is complete or the panel shows another session.
import { readLog } from '../api.js';
import { el } from '../format.js';

const SLICE_BYTES = 65536;
const MAX_SHOWN_CHARS = 256 * 1024;  // per stream; the start is dropped from the view past this
const RETRY_MS = 2000;               // after a failed read (the daemon restarting, say)

export function sessionLog(sessionId) {
  const root = el('div', { 'data-testid': 'session-log' });
  const controller = new AbortController();
  let stopped = false;
  root.stop = () => { stopped = true; controller.abort(); };

  const views = ['stdout', 'stderr'].map((stream) => {
    const text = el('pre', { class: 'mono log', 'data-testid': `session-log-${stream}` });
    const state = el('span', { class: 'muted', 'data-testid': `session-log-${stream}-state` }, 'following…');
    root.append(el('h2', {}, stream, ' ', state), text);
    return { stream, text, state };
  });

  async function follow({ stream, text, state }) {
    const decoder = new TextDecoder();
    let offset = 0;
    while (!stopped) {
      let r;
      try {
        r = await readLog(sessionId, { stream, offset, max_bytes: SLICE_BYTES, follow: 1 }, controller.signal);
      } catch (err) {
        if (stopped) return;
        if (err.code === 'no_log') {
          root.replaceChildren(el('p', { class: 'muted', 'data-testid': 'session-log-none' }, `No log: ${err.message}`));
          root.stop();
          return;
        }
        state.textContent = `could not read the log: ${err.message}; retrying`;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      if (r.restarted) text.textContent = '';  // a new attempt began its log again
      const added = decoder.decode(r.bytes, { stream: !r.complete });
      if (added) {
        text.append(document.createTextNode(added));
        if (text.textContent.length > MAX_SHOWN_CHARS) {
          text.textContent = '…' + text.textContent.slice(-MAX_SHOWN_CHARS);
        }
      }
      offset = r.next;
      if (r.complete) {
        state.textContent = text.textContent ? '(complete)' : '(empty)';
        return;
      }
      state.textContent = 'following…';
    }
  }
  views.forEach(follow);
  return root;
}
