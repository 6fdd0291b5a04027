// The bearer token a daemon started with --token-file wants (docs/api.md, "Authentication").
// The dashboard's own files need none; its API calls do. The token is asked for the first time
// the API answers 401, and kept in sessionStorage: for this tab only, gone when it closes, and
// never in a URL. The event stream carries it as a WebSocket subprotocol (events.js).

const KEY = 'batchd.token';

export function token() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return '';  // storage disabled: no token, every call is tried without one
  }
}

function store(value) {
  try {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  } catch {
    // storage disabled: the token lives until the next 401
  }
}

// Called on a 401: forgets a token the daemon refused and shows the token form with the
// daemon's words (`sentToken`: the refused request carried one; its words then win over those
// of calls made without one). Submitting the form stores the token and tells the app to load
// the view again (`batchd:token` on window).
export function askForToken(message, sentToken) {
  store('');
  const form = document.querySelector('[data-testid="token-form"]');
  if (!form) return;
  if (form.hidden || sentToken) form.querySelector('[data-testid="token-message"]').textContent = message;
  if (!form.hidden) return;
  form.hidden = false;
  form.querySelector('input').focus();
  form.onsubmit = (e) => {
    e.preventDefault();
    const input = form.querySelector('input');
    store(input.value.trim());
    input.value = '';
    form.hidden = true;
    window.dispatchEvent(new Event('batchd:token'));
  };
}
