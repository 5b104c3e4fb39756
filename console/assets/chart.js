// The overview's line chart, drawn as SVG elements by script: commands per second and events
// per second on the left scale, the projection's lag in events on the right one.
'use strict';

(function () {
  const sf = (window.stockflow = window.stockflow || { pages: {} });
  const SVG = 'http://www.w3.org/2000/svg';

  const WIDTH = 720;
  const HEIGHT = 260;
  const PLOT = { left: 56, right: 664, top: 44, bottom: 222 };

  const LINES = [
    { key: 'commands_per_second', label: 'commands/s', className: 'line-commands', scale: 'left' },
    { key: 'events_per_second', label: 'events/s', className: 'line-events', scale: 'left' },
    { key: 'lag_events', label: 'lag (events)', className: 'line-lag', scale: 'right' },
  ];

  function node(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) {
      element.setAttribute(key, String(value));
    }
    if (text !== undefined) element.textContent = text;
    return element;
  }

  // A round upper bound for a scale whose largest value is `max`.
  function ceiling(max) {
    if (!(max > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(max)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * power >= max) return step * power;
    }
    return 10 * power;
  }

  function clock(at) {
    const date = new Date(at);
    return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString();
  }

  // The path through a series' values; a missing value breaks the line.
  function pathOf(values, x, y) {
    let d = '';
    let drawing = false;
    values.forEach((value, i) => {
      if (value === null || value === undefined) {
        drawing = false;
        return;
      }
      d += (drawing ? ' L' : ' M') + x(i).toFixed(1) + ' ' + y(value).toFixed(1);
      drawing = true;
    });
    return d.trim();
  }

  function legend(svg) {
    let x = PLOT.left;
    for (const line of LINES) {
      svg.appendChild(node('line', { x1: x, y1: 18, x2: x + 22, y2: 18, class: 'swatch ' + line.className }));
      const label = node('text', { x: x + 28, y: 22, class: 'legend' }, line.label + (line.scale === 'right' ? ' (right scale)' : ''));
      svg.appendChild(label);
      x += 28 + 8 * label.textContent.length + 24;
    }
  }

  function axes(svg, leftMax, rightMax, series) {
    const ticks = 4;
    for (let i = 0; i <= ticks; i++) {
      const y = PLOT.bottom - ((PLOT.bottom - PLOT.top) * i) / ticks;
      svg.appendChild(node('line', { x1: PLOT.left, y1: y, x2: PLOT.right, y2: y, class: 'grid' }));
      svg.appendChild(node('text', { x: PLOT.left - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' }, sf.number((leftMax * i) / ticks)));
      svg.appendChild(node('text', { x: PLOT.right + 6, y: y + 4, class: 'tick' }, sf.number((rightMax * i) / ticks)));
    }
    if (series.length > 0) {
      svg.appendChild(node('text', { x: PLOT.left, y: HEIGHT - 18, class: 'tick' }, clock(series[0].at)));
      svg.appendChild(node('text', { x: PLOT.right, y: HEIGHT - 18, class: 'tick', 'text-anchor': 'end' }, clock(series[series.length - 1].at)));
    }
  }

  // Draws `series` (the overview's) into `svg`, replacing what was there.
  sf.drawChart = function (svg, series) {
    sf.clear(svg);
    svg.setAttribute('viewBox', '0 0 ' + WIDTH + ' ' + HEIGHT);
    svg.appendChild(node('title', {}, 'Commands per second, events per second and projection lag'));
    legend(svg);
    const values = {};
    for (const line of LINES) {
      values[line.key] = series.map((point) => {
        const value = point[line.key];
        return typeof value === 'number' && Number.isFinite(value) ? value : null;
      });
    }
    const largest = (scale) =>
      Math.max(0, ...LINES.filter((l) => l.scale === scale).flatMap((l) => values[l.key].filter((v) => v !== null)));
    const leftMax = ceiling(largest('left'));
    const rightMax = ceiling(largest('right'));
    axes(svg, leftMax, rightMax, series);
    if (series.length === 0) {
      svg.appendChild(node('text', { x: (PLOT.left + PLOT.right) / 2, y: (PLOT.top + PLOT.bottom) / 2, class: 'empty', 'text-anchor': 'middle' }, 'waiting for the first samples'));
      return;
    }
    const span = Math.max(1, series.length - 1);
    const x = (i) => PLOT.left + ((PLOT.right - PLOT.left) * i) / span;
    for (const line of LINES) {
      const max = line.scale === 'left' ? leftMax : rightMax;
      const y = (value) => PLOT.bottom - ((PLOT.bottom - PLOT.top) * Math.min(value, max)) / max;
      const d = pathOf(values[line.key], x, y);
      if (d) svg.appendChild(node('path', { d: d, class: 'line ' + line.className }));
    }
  };
})();
