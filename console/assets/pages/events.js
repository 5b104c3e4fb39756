// Events: the stored events as published, from the query service's feed; the latest ones at
// first, then by stream, by correlation id, or from a position, a page at a time.
'use strict';

(function () {
  const sf = window.stockflow;
  const BASE = 'queries/v1/events';
  const PAGE_SIZE = 50;
  const MAX_READS = 20; // requests one search or `more` makes at most

  let filter = {}; // the search shown: stream or correlation_id
  let nextAfter = null; // where the next page starts, if there is one
  let reading = 0; // counts the reads started, so that only the latest one writes

  function row(event) {
    const tr = document.createElement('tr');
    tr.dataset.position = sf.show(event.position);
    tr.append(
      sf.cell('position', sf.show(event.position), true),
      sf.cell('type', sf.show(event.type)),
      sf.cell('stream', sf.show(event.subject)),
      sf.cell('time', sf.show(event.time)),
      sf.cell('correlation', sf.show(event.correlationid)),
      sf.cell('data', event.data === undefined ? '' : JSON.stringify(event.data)),
    );
    return tr;
  }

  // Reads the events after `after` that pass the current filter, until a page's worth is
  // shown or the head is reached (a filter by stream examines a window of positions per
  // request, so one answer may hold few or none); `append` adds them below the rows shown.
  async function read(after, append) {
    const tbody = sf.byId('events-table').tBodies[0];
    if (!append) sf.clear(tbody);
    const mine = ++reading;
    let next = after;
    let head = after;
    let found = 0;
    try {
      for (let reads = 0; reads < MAX_READS && found < PAGE_SIZE; reads++) {
        const answer = await sf.get(sf.query(BASE, Object.assign({ after: next, limit: PAGE_SIZE }, filter)));
        if (mine !== reading) return; // a newer search replaced this one
        const events = Array.isArray(answer.events) ? answer.events : [];
        for (const event of events) tbody.appendChild(row(event));
        found += events.length;
        head = Number(answer.head);
        const advanced = Number(answer.next_after);
        const stalled = !(advanced > next);
        next = advanced;
        if (stalled || !(next < head)) break;
      }
    } catch (e) {
      if (mine === reading) sf.say('events-error', e.message, true);
      throw e;
    }
    sf.say('events-error', '');
    nextAfter = next < head ? next : null;
    sf.byId('events-more').hidden = nextAfter === null;
    const shown = tbody.rows.length;
    sf.setText('events-summary', shown + (shown === 1 ? ' event' : ' events') + ' shown; head ' + sf.number(head));
    sf.loaded('events');
  }

  // The latest page: the head first, then the events just before it.
  async function latest() {
    filter = {};
    let head;
    try {
      head = Number((await sf.get(sf.query(BASE, { limit: 1, after: 0 }))).head) || 0;
    } catch (e) {
      sf.say('events-error', e.message, true);
      throw e;
    }
    await read(Math.max(0, head - PAGE_SIZE), false);
  }

  function search(event) {
    event.preventDefault();
    const by = sf.byId('events-by').value;
    const query = sf.byId('events-query').value.trim();
    if (!query) {
      latest().catch(() => {});
      return;
    }
    if (by === 'position') {
      const position = Number(query);
      if (!Number.isInteger(position) || position < 1) {
        sf.say('events-error', 'A position is a whole number from 1.', true);
        return;
      }
      filter = {};
      read(position - 1, false).catch(() => {});
      return;
    }
    filter = by === 'correlation_id' ? { correlation_id: query } : { stream: query };
    read(0, false).catch(() => {});
  }

  function setup() {
    sf.byId('events-search').addEventListener('submit', search);
    sf.byId('events-more').addEventListener('click', () => {
      if (nextAfter !== null) read(nextAfter, true).catch(() => {});
    });
  }

  sf.pages.events = {
    poll: false,
    setup: setup,
    enter: latest,
  };
})();
