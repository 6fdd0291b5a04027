// One session in detail: its values, state, attempts, result and error in plain words, and a
// command session's stdout and stderr as they are written (session_log.js).
import { getSession } from '../api.js';
import { el, describeError } from '../format.js';
import { sessionLog } from './session_log.js';

export function sessionPanel() {
  const root = el('div', { 'data-testid': 'session-panel' },
    el('p', { class: 'muted' }, 'Select a session to see its values, result and error.'));

  let shown = null;
  let log = null;  // the shown session's log view: kept (still following) across re-renders

  // A session.state event about the shown session: show it as it is now.
  root.apply = (event) => {
    if (event.session === shown) root.show(shown);
  };

  root.show = async (sessionId) => {
    if (log && log.sessionId !== sessionId) {
      log.stop();
      log = null;
    }
    root.replaceChildren(el('p', { class: 'muted' }, `loading session ${sessionId}…`));
    try {
      const s = await getSession(sessionId);
      const error = s.error
        ? el('div', { class: 'notice error', 'data-testid': 'session-error' },
            describeError(s.error, { attempt: s.attempts, to: s.state }))
        : null;
      shown = s.id;
      if (!log) {
        log = sessionLog(s.id);
        log.sessionId = s.id;
      }
      root.replaceChildren(...[
        el('div', { class: 'row' }, el('h2', { class: 'grow' }, `Session #${s.id}`),
          el('span', { class: `badge ${s.state}` }, s.state)),
        el('p', { class: 'muted' }, `ordinal ${s.ordinal} · run ${s.run} · index [${s.index.join(', ')}] · `
          + `${s.attempts} attempt${s.attempts === 1 ? '' : 's'}`),
        error,
        el('h2', {}, 'Values'),
        el('pre', { class: 'mono' }, JSON.stringify(s.values, null, 2)),
        s.result != null ? el('h2', {}, 'Result') : null,
        s.result != null ? el('pre', { class: 'mono' }, JSON.stringify(s.result, null, 2)) : null,
        el('h2', {}, 'Log'),
        log,
      ].filter(Boolean));
    } catch (err) {
      root.replaceChildren(el('div', { class: 'notice error' }, `Could not load session ${sessionId}: ${err.message}`));
    }
  };
  return root;
}
