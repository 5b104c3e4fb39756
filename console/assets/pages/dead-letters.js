// Dead letters: the messages the projector could not use, how many wait, one read whole, and
// replaying or discarding it after the operator confirms.
'use strict';

(function () {
  const sf = window.stockflow;
  const BASE = 'projector/v1/admin/dead-letters';
  const PAGE_SIZE = 50;

  let nextCursor = null;
  let selected = null; // the id of the dead letter shown whole

  function row(item) {
    const tr = document.createElement('tr');
    tr.dataset.id = sf.show(item.id);
    tr.tabIndex = 0;
    tr.title = 'Show this dead letter';
    if (tr.dataset.id === selected) tr.classList.add('selected');
    tr.append(
      sf.cell('reason', sf.show(item.reason)),
      sf.cell('routing-key', sf.show(item.routing_key)),
      sf.cell('received', sf.show(item.received_at)),
      sf.cell('attempts', sf.number(item.attempts), true),
      sf.cell('preview', sf.show(item.body_preview)),
    );
    return tr;
  }

  // The first page again (`more` false), or the next one after it.
  async function list(more) {
    const cursor = more ? nextCursor : null;
    let answer;
    try {
      answer = await sf.get(sf.query(BASE, { limit: PAGE_SIZE, cursor: cursor }));
    } catch (e) {
      sf.say('dead-letters-message', e.message, true);
      throw e;
    }
    sf.say('dead-letters-message', '');
    const tbody = sf.byId('dead-letters-table').tBodies[0];
    if (!more) sf.clear(tbody);
    const items = Array.isArray(answer.items) ? answer.items : [];
    for (const item of items) tbody.appendChild(row(item));
    sf.setText('dead-letters-total', sf.number(answer.total));
    nextCursor = answer.next_cursor || null;
    sf.byId('dead-letters-more').hidden = !nextCursor;
    if (!more && items.length === 0) sf.say('dead-letters-message', 'No dead letters wait.');
    sf.loaded('dead-letters');
  }

  // A body as text: JSON laid out, base64 said so, anything else as it is.
  function bodyText(letter) {
    const body = letter.body;
    if (body === null || body === undefined) return '';
    if (typeof body !== 'string') return JSON.stringify(body, null, 2);
    if (letter.body_encoding === 'base64') return '(base64) ' + body;
    try {
      return JSON.stringify(JSON.parse(body), null, 2);
    } catch (e) {
      return body;
    }
  }

  async function open(id) {
    selected = id;
    for (const tr of sf.byId('dead-letters-table').tBodies[0].rows) {
      tr.classList.toggle('selected', tr.dataset.id === id);
    }
    const detail = sf.byId('dead-letter-detail');
    sf.say('dead-letter-outcome', '');
    let letter;
    try {
      letter = await sf.get(BASE + '/' + encodeURIComponent(id));
    } catch (e) {
      sf.say('dead-letters-message', e.message, true);
      return;
    }
    if (selected !== id) return;
    sf.setText('dead-letter-id', id);
    const reason = sf.show(letter.reason) + (letter.detail ? ': ' + sf.show(letter.detail) : '');
    sf.setText('dead-letter-reason-text', reason);
    sf.setText('dead-letter-body', bodyText(letter));
    const meta = {};
    for (const key of Object.keys(letter)) {
      if (!['body', 'body_encoding', 'reason', 'detail'].includes(key)) meta[key] = letter[key];
    }
    sf.setText('dead-letter-meta', JSON.stringify(meta, null, 2));
    sf.byId('dead-letter-reason').value = '';
    setButtons(false);
    detail.hidden = false;
  }

  function setButtons(disabled) {
    sf.byId('dead-letter-replay').disabled = disabled;
    sf.byId('dead-letter-discard').disabled = disabled;
  }

  async function replay() {
    const id = selected;
    if (!id) return;
    if (!(await sf.confirm('Replay dead letter ' + id + ' into the read models?'))) return;
    setButtons(true);
    try {
      const answer = await sf.post(BASE + '/' + encodeURIComponent(id) + '/replay');
      const outcome = sf.show(answer && answer.outcome);
      const reason = answer && answer.reason ? ': ' + sf.show(answer.reason) : '';
      sf.say('dead-letter-outcome', outcome + reason, outcome === 'dead_lettered');
    } catch (e) {
      sf.say('dead-letter-outcome', e.message, true);
    } finally {
      setButtons(false);
    }
    await list(false).catch(() => {});
  }

  async function discard() {
    const id = selected;
    if (!id) return;
    const reason = sf.byId('dead-letter-reason').value.trim();
    if (!reason) {
      sf.say('dead-letter-outcome', 'Give a reason for discarding it.', true);
      return;
    }
    if (!(await sf.confirm('Discard dead letter ' + id + '? It will never be applied.'))) return;
    setButtons(true);
    try {
      await sf.post(BASE + '/' + encodeURIComponent(id) + '/discard', { reason: reason });
      sf.say('dead-letter-outcome', 'discarded', false);
    } catch (e) {
      sf.say('dead-letter-outcome', e.message, true);
    } finally {
      setButtons(false);
    }
    await list(false).catch(() => {});
  }

  function setup() {
    const tbody = sf.byId('dead-letters-table').tBodies[0];
    const choose = (event) => {
      const tr = event.target.closest('tr[data-id]');
      if (tr) open(tr.dataset.id);
    };
    tbody.addEventListener('click', choose);
    tbody.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        choose(event);
      }
    });
    sf.byId('dead-letters-more').addEventListener('click', () => list(true).catch(() => {}));
    sf.byId('dead-letter-replay').addEventListener('click', replay);
    sf.byId('dead-letter-discard').addEventListener('click', discard);
  }

  sf.pages['dead-letters'] = {
    poll: false,
    setup: setup,
    enter: () => {
      selected = null;
      sf.byId('dead-letter-detail').hidden = true;
      return list(false);
    },
  };
})();
