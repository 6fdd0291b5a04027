// The dashboard's entry: a hash router over three views (the batch list, a batch, submit).
// Each view mounts into <main> and returns its teardown (closing its event feed).
import { mountBatch } from './views/batch.js';
import { mountList } from './views/list.js';
import { mountSubmit } from './views/submit.js';

const main = document.getElementById('view');
let unmount = () => {};

function route() {
  unmount();
  const hash = location.hash.replace(/^#/, '') || '/';
  const batch = /^\/batch\/([^/]+)$/.exec(hash);
  let view = 'list';
  if (batch) {
    view = 'batch';
    unmount = mountBatch(main, decodeURIComponent(batch[1]));
  } else if (hash === '/submit') {
    view = 'submit';
    unmount = mountSubmit(main);
  } else {
    unmount = mountList(main);
  }
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === view));
  document.title = `batchd · ${view === 'batch' ? batch[1] : view}`;
}

window.addEventListener('hashchange', route);
window.addEventListener('batchd:token', route);  // a token was given: load the view with it
route();
