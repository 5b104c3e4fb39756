// Projections: each read model's status, position and lag (every 2 s), pausing, resuming,
// retrying and skipping an event, and rebuilding the read models with its progress.
'use strict';

(function () {
  const sf = window.stockflow;
  const BASE = 'projector/v1/admin/';

  let rebuildId = null; // the rebuild last seen or started
  let rebuildFinished = false; // it is done or failed: no need to ask again

  // One status for all: the worst of the projections', or the rebuild's while it runs.
  function overall(items, rebuild) {
    const statuses = new Set(items.map((item) => item.status));
    if (statuses.has('stopped')) return 'stopped';
    if (statuses.has('rebuilding') || (rebuild && rebuild.status === 'running')) return 'rebuilding';
    if (statuses.has('paused')) return 'paused';
    if (statuses.has('running')) return 'running';
    return statuses.size ? Array.from(statuses).map(sf.show).join(', ') : 'no projections';
  }

  function row(item) {
    const tr = document.createElement('tr');
    tr.dataset.projection = sf.show(item.name);
    tr.dataset.status = sf.show(item.status);
    const name = document.createElement('th');
    name.scope = 'row';
    name.className = 'name';
    name.textContent = sf.show(item.name);
    let error = sf.show(item.error);
    if (item.failing_position !== null && item.failing_position !== undefined) {
      error += (error ? ' ' : '') + '(at position ' + sf.show(item.failing_position) + ')';
    }
    const status = sf.cell('status', sf.show(item.status));
    status.classList.add('status-' + sf.show(item.status));
    tr.append(
      name,
      status,
      sf.cell('position', sf.number(item.position), true),
      sf.cell('lag-events', sf.number(item.lag_events), true),
      sf.cell('lag-seconds', sf.number(item.lag_seconds), true),
      sf.cell('error', error),
    );
    return tr;
  }

  function showRebuild(rebuild) {
    if (!rebuild) return;
    rebuildId = rebuild.id || rebuild.rebuild_id || rebuildId;
    rebuildFinished = rebuild.status === 'done' || rebuild.status === 'failed';
    const progress = sf.byId('rebuild-progress');
    const total = Number(rebuild.events_total) || 0;
    const done = Number(rebuild.events_done) || 0;
    progress.max = Math.max(total, 1);
    progress.value = rebuild.status === 'done' && total === 0 ? 1 : Math.min(done, progress.max);
    sf.setText('rebuild-status', sf.show(rebuild.status));
    let counts = sf.number(done) + ' / ' + sf.number(total) + ' events';
    if (rebuild.events_per_second !== null && rebuild.events_per_second !== undefined) {
      counts += ', ' + sf.number(rebuild.events_per_second) + ' events/s';
    }
    sf.setText('rebuild-counts', counts);
    const eta = rebuild.eta_seconds;
    sf.setText(
      'rebuild-eta',
      rebuild.status === 'running' && eta !== null && eta !== undefined ? 'about ' + sf.number(eta) + ' s left' : '',
    );
    sf.say('rebuild-error', sf.show(rebuild.error), true);
  }

  async function refresh() {
    let answer;
    try {
      answer = await sf.get(BASE + 'projections');
    } catch (e) {
      sf.say('projections-message', e.message, true);
      throw e;
    }
    const items = Array.isArray(answer.items) ? answer.items : [];
    const tbody = sf.byId('projections-table').tBodies[0];
    sf.clear(tbody);
    for (const item of items) tbody.appendChild(row(item));
    sf.setText('projections-status', overall(items, answer.rebuild));
    sf.setText('projections-head', sf.number(answer.head));
    if (answer.rebuild) {
      showRebuild(answer.rebuild);
    } else if (rebuildId && !rebuildFinished) {
      try {
        showRebuild(await sf.get(BASE + 'rebuilds/' + encodeURIComponent(rebuildId)));
      } catch (e) {
        sf.say('rebuild-error', e.message, true);
      }
    }
    sf.loaded('projections');
  }

  // Runs one action with its button disabled, says how it went, and refreshes.
  async function act(button, label, request) {
    button.disabled = true;
    try {
      const answer = await request();
      sf.say('projections-message', typeof label === 'function' ? label(answer) : label, false);
    } catch (e) {
      sf.say('projections-message', e.message, true);
    } finally {
      button.disabled = false;
    }
    await refresh().catch(() => {});
  }

  function reasonBody() {
    const reason = sf.byId('projections-reason').value.trim();
    return reason ? { reason: reason } : {};
  }

  function control(id, action, done) {
    const button = sf.byId(id);
    button.addEventListener('click', () =>
      act(button, done, () => sf.post(BASE + 'projections/' + action, reasonBody())),
    );
  }

  function setup() {
    control('projections-pause', 'pause', 'Paused.');
    control('projections-resume', 'resume', 'Resumed.');
    control('projections-retry', 'retry', 'Retrying.');

    sf.byId('projections-skip').addEventListener('submit', (event) => {
      event.preventDefault();
      const text = sf.byId('skip-position').value.trim();
      const position = Number(text);
      if (!text || !Number.isInteger(position) || position < 1) {
        sf.say('projections-message', 'Give the position of the event to skip (a whole number from 1).', true);
        return;
      }
      const reason = sf.byId('skip-reason').value.trim();
      if (!reason) {
        sf.say('projections-message', 'Give a reason for skipping the event: it is kept in the audit log.', true);
        return;
      }
      act(sf.byId('skip-submit'), 'Skipped the event at position ' + position + '.', () =>
        sf.post(BASE + 'projections/skip', { position: position, reason: reason }),
      );
    });

    const start = sf.byId('rebuild-start');
    start.addEventListener('click', () =>
      act(
        start,
        (answer) => {
          if (answer && answer.rebuild_id) {
            rebuildId = answer.rebuild_id;
            rebuildFinished = false;
            sf.setText('rebuild-status', 'running');
            sf.say('rebuild-error', '');
          }
          return 'Rebuild started' + (answer && answer.rebuild_id ? ' (' + sf.show(answer.rebuild_id) + ').' : '.');
        },
        () => {
          const reason = sf.byId('projections-reason').value.trim();
          return sf.post(BASE + 'rebuilds', reason ? { reason: reason } : {});
        },
      ),
    );
  }

  sf.pages.projections = {
    poll: true,
    setup: setup,
    enter: refresh,
    refresh: refresh,
  };
})();
