// The audit log: every admin action, newest first, from the command service, a page at a time.
'use strict';

(function () {
  const sf = window.stockflow;
  const BASE = 'commands/v1/admin/audit';
  const PAGE_SIZE = 50;

  let nextCursor = null;

  function row(entry) {
    const tr = document.createElement('tr');
    tr.append(
      sf.cell('at', sf.show(entry.at)),
      sf.cell('subject', sf.show(entry.subject)),
      sf.cell('action', sf.show(entry.action)),
      sf.cell('target', sf.show(entry.target)),
      sf.cell('reason', sf.show(entry.reason)),
      sf.cell('outcome', sf.show(entry.outcome)),
    );
    return tr;
  }

  async function list(more) {
    let answer;
    try {
      answer = await sf.get(sf.query(BASE, { limit: PAGE_SIZE, cursor: more ? nextCursor : null }));
    } catch (e) {
      sf.say('audit-message', e.message, true);
      throw e;
    }
    sf.say('audit-message', '');
    const tbody = sf.byId('audit-table').tBodies[0];
    if (!more) sf.clear(tbody);
    const items = Array.isArray(answer.items) ? answer.items : [];
    for (const entry of items) tbody.appendChild(row(entry));
    nextCursor = answer.next_cursor || null;
    sf.byId('audit-more').hidden = !nextCursor;
    if (!more && items.length === 0) sf.say('audit-message', 'Nothing recorded yet.');
    sf.loaded('audit');
  }

  function setup() {
    sf.byId('audit-more').addEventListener('click', () => list(true).catch(() => {}));
  }

  sf.pages.audit = {
    poll: false,
    setup: setup,
    enter: () => list(false),
  };
})();
