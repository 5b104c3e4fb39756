// The overview: each service's readiness, the pipeline's positions and lags, the dead
// letters waiting, the query service's replica lag, and the chart of the last minutes; from GET /api/overview every 2 s.
'use strict';

(function () {
  const sf = window.stockflow;

  const FIGURES = [
    ['overview-head', 'head'],
    ['overview-relay-position', 'relay_position'],
    ['overview-relay-lag', 'relay_lag_events'],
    ['overview-projection-position', 'projector_position'],
    ['overview-lag-events', 'lag_events'],
    ['overview-lag-seconds', 'lag_seconds'],
    ['overview-dead-letters', 'dead_letters'],
    ['overview-replica-lag', 'replica_lag_seconds'],
  ];

  function readiness(list) {
    const ul = sf.byId('overview-readiness');
    sf.clear(ul);
    for (const entry of list || []) {
      const li = document.createElement('li');
      li.dataset.service = sf.show(entry.service);
      li.dataset.ready = entry.ready ? 'true' : 'false';
      const name = document.createElement('span');
      name.className = 'service';
      name.textContent = sf.show(entry.service);
      const state = document.createElement('span');
      state.className = 'state';
      state.textContent = entry.ready ? 'ready' : 'not ready';
      li.append(name, ' ', state);
      ul.appendChild(li);
    }
  }

  async function refresh() {
    let overview;
    try {
      overview = await sf.get('overview');
    } catch (e) {
      sf.say('overview-message', e.message, true);
      throw e;
    }
    sf.say('overview-message', '');
    for (const [id, key] of FIGURES) sf.setText(id, sf.number(overview[key]));
    sf.byId('overview-dead-letters').classList.toggle('alert', Number(overview.dead_letters) > 0);
    readiness(overview.readiness);
    sf.drawChart(sf.byId('overview-chart'), Array.isArray(overview.series) ? overview.series : []);
    sf.loaded('overview');
  }

  sf.pages.overview = {
    poll: true,
    enter: refresh,
    refresh: refresh,
  };
})();
