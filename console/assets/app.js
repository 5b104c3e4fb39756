// The console's shell: signing in and out, the hash routes (#/overview, #/projections,
// #/dead-letters, #/events, #/audit), and refreshing the page shown every 2 s where it
// watches something that moves. Pages register themselves in stockflow.pages.
'use strict';

(function () {
  const sf = window.stockflow;
  const PAGES = ['overview', 'projections', 'dead-letters', 'events', 'audit'];
  const POLL_MS = 2000;

  let signedIn = false;
  let current = null; // the page shown
  let timer = null; // its refresh timer
  let visit = 0; // counts the pages shown, so that a late answer knows it is stale

  function showSection(name) {
    for (const section of document.querySelectorAll('main > section')) {
      section.hidden = section.id !== 'page-' + name;
    }
    document.body.dataset.page = name;
    for (const link of document.querySelectorAll('nav a[data-page]')) {
      if (link.dataset.page === name) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  }

  function stopPolling() {
    if (timer !== null) clearInterval(timer);
    timer = null;
  }

  // Runs a page's step; each page shows its own errors, so nothing is left unhandled.
  function run(step) {
    return Promise.resolve()
      .then(step)
      .catch(() => {});
  }

  // Shows the page the hash names (the overview if it names none).
  function route() {
    if (!signedIn) return;
    let name = location.hash.replace(/^#\/?/, '');
    if (!PAGES.includes(name)) {
      name = 'overview';
      history.replaceState(null, '', '#/overview');
    }
    stopPolling();
    current = name;
    const mine = ++visit;
    const section = sf.byId('page-' + name);
    section.removeAttribute('data-loaded');
    showSection(name);
    const page = sf.pages[name];
    if (!page) return;
    // One request of the page at a time: a slow answer delays the next refresh, it does
    // not pile up behind it.
    let running = true;
    run(() => page.enter()).then(() => (running = false));
    if (page.poll) {
      timer = setInterval(() => {
        if (visit !== mine || running || document.visibilityState === 'hidden') return;
        running = true;
        run(() => page.refresh()).then(() => (running = false));
      }, POLL_MS);
    }
  }

  function showSignIn(note) {
    signedIn = false;
    stopPolling();
    current = null;
    sf.byId('top').hidden = true;
    sf.setText('signed-in-as', '');
    sf.setText('sign-in-note', note || '');
    sf.say('sign-in-error', '');
    showSection('sign-in');
    sf.byId('token').focus();
  }

  function enter(subject) {
    signedIn = true;
    sf.setText('signed-in-as', subject);
    sf.byId('top').hidden = false;
  }

  sf.onSignedOut = function () {
    if (signedIn) showSignIn('Your session has ended: sign in again.');
  };

  async function signIn(event) {
    event.preventDefault();
    const input = sf.byId('token');
    const button = sf.byId('sign-in-submit');
    const token = input.value.trim();
    if (!token) {
      sf.say('sign-in-error', 'Paste a token first.', true);
      return;
    }
    button.disabled = true;
    sf.say('sign-in-error', '');
    try {
      const answer = await sf.session.signIn(token);
      if (answer.ok && answer.data) {
        input.value = '';
        enter(answer.data.subject);
        sf.setText('sign-in-note', '');
        if (location.hash === '#/overview') route();
        else location.hash = '#/overview';
      } else {
        const problem = answer.data || {};
        sf.say('sign-in-error', problem.detail || problem.title || 'Sign-in failed (HTTP ' + answer.status + ').', true);
      }
    } catch (e) {
      sf.say('sign-in-error', 'The console cannot be reached.', true);
    } finally {
      button.disabled = false;
    }
  }

  async function signOut() {
    try {
      await sf.session.signOut();
    } catch (e) {
      // Signed out in the page regardless; the session ends on the server with its time.
    }
    showSignIn('Signed out.');
  }

  async function start() {
    sf.byId('sign-in').addEventListener('submit', signIn);
    sf.byId('sign-out').addEventListener('click', signOut);
    window.addEventListener('hashchange', route);
    for (const name of PAGES) {
      const page = sf.pages[name];
      if (page && page.setup) page.setup();
    }
    try {
      const answer = await sf.session.current();
      if (answer.ok && answer.data) {
        enter(answer.data.subject);
        route();
        return;
      }
    } catch (e) {
      // Not reachable: the sign-in form says so when it is used.
    }
    showSignIn();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
