// What every page of the console shares: requests to the console's API, and small helpers
// that put values into the page as text (never as markup).
'use strict';

(function () {
  const sf = (window.stockflow = window.stockflow || { pages: {} });

  // A refusal from the console or a service, with the problem body it came with.
  // A problem's detail, and for `validation_failed` what is wrong with each field
  // ("reason: is required: …"), which the detail alone does not say.
  function describe(status, problem) {
    const detail =
      (problem && (problem.detail || problem.title)) ||
      (status ? 'the request failed (HTTP ' + status + ')' : 'the console cannot be reached');
    const fields = problem && Array.isArray(problem.errors) ? problem.errors : [];
    const named = fields
      .filter((e) => e && typeof e.field === 'string' && typeof e.message === 'string')
      .map((e) => e.field + ': ' + e.message);
    return named.length ? detail + ' (' + named.join('; ') + ')' : detail;
  }

  class ApiError extends Error {
    constructor(status, problem) {
      super(describe(status, problem));
      this.status = status;
      this.code = problem && problem.code;
    }
  }
  sf.ApiError = ApiError;

  // Called when the console answers 401: the session has ended. Set by app.js.
  sf.onSignedOut = null;

  async function send(method, url, body) {
    const init = {
      method: method,
      headers: { 'X-Console': '1', Accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, null);
    }
    let data = null;
    if (response.status !== 204) {
      const text = await response.text();
      if (text) {
        try {
          data = JSON.parse(text);
        } catch (e) {
          data = null;
        }
      }
    }
    return { status: response.status, ok: response.ok, data: data };
  }

  // A request to the console's API (`/api/...`). A 401 ends the session in the page.
  async function api(method, path, body) {
    const answer = await send(method, '/api/' + path, body);
    if (answer.status === 401) {
      if (sf.onSignedOut) sf.onSignedOut();
      throw new ApiError(401, answer.data);
    }
    if (!answer.ok) throw new ApiError(answer.status, answer.data);
    return answer.data;
  }

  sf.get = (path) => api('GET', path);
  sf.post = (path, body) => api('POST', path, body);

  // The session, which is not the API: a 401 here is an answer, not an ending.
  sf.session = {
    current: () => send('GET', '/session'),
    signIn: (token) => send('POST', '/session', { token: token }),
    signOut: () => send('DELETE', '/session'),
  };

  // `path?name=value&...`, leaving out empty values.
  sf.query = function (path, params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
    }
    const text = search.toString();
    return text ? path + '?' + text : path;
  };

  sf.byId = (id) => document.getElementById(id);

  // A value as text: nothing for null, JSON for objects.
  sf.show = function (value) {
    if (value === undefined || value === null) return '';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  };

  // A number as text: integers whole, others to three decimals at most; a dash if unknown.
  sf.number = function (value) {
    if (value === undefined || value === null || Number.isNaN(Number(value))) return '–';
    const n = Number(value);
    if (Number.isInteger(n)) return String(n);
    return String(Math.round(n * 1000) / 1000);
  };

  sf.setText = function (idOrNode, value) {
    const node = typeof idOrNode === 'string' ? sf.byId(idOrNode) : idOrNode;
    if (node) node.textContent = value === undefined || value === null ? '' : String(value);
  };

  // A message under a page: what an action did, or why it failed.
  sf.say = function (id, text, isError) {
    const node = sf.byId(id);
    if (!node) return;
    node.textContent = text || '';
    node.classList.toggle('error', Boolean(isError));
    node.classList.toggle('ok', Boolean(text) && !isError);
  };

  sf.clear = function (node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  };

  // A table cell holding `value` as text.
  sf.cell = function (className, value, numeric) {
    const td = document.createElement('td');
    td.className = className + (numeric ? ' num' : '');
    td.textContent = value;
    return td;
  };

  // The page's section marks its first data of this visit, for whoever waits on it.
  sf.loaded = function (page) {
    if (document.body.dataset.page !== page) return;
    const section = sf.byId('page-' + page);
    if (section) section.dataset.loaded = 'true';
  };

  // Asks in the confirmation dialog; resolves to whether the operator confirmed.
  sf.confirm = function (text) {
    const dialog = sf.byId('confirm');
    const yes = sf.byId('confirm-yes');
    const no = sf.byId('confirm-no');
    sf.setText('confirm-text', text);
    return new Promise((resolve) => {
      const done = (answer) => {
        yes.removeEventListener('click', onYes);
        no.removeEventListener('click', onNo);
        dialog.removeEventListener('cancel', onCancel);
        if (dialog.open) dialog.close();
        resolve(answer);
      };
      const onYes = () => done(true);
      const onNo = () => done(false);
      const onCancel = (event) => {
        event.preventDefault();
        done(false);
      };
      yes.addEventListener('click', onYes);
      no.addEventListener('click', onNo);
      dialog.addEventListener('cancel', onCancel);
      dialog.showModal();
      no.focus();
    });
  };
})();
