// The plan as an explorable graph, drawn by Cytoscape.js with the dagre layout (both vendored, inline).
//
// Layout in two levels, so that a plan of thousands of jobs lays out in seconds: dagre places the
// *recipes* of each platform lane (one box per recipe, sized to hold its jobs; edges between recipes,
// transitively reduced), then each recipe's jobs are stacked inside its box. Lanes are stacked top to
// bottom. Click a job or a recipe box to light up everything it waits for (upstream, blue) and
// everything waiting for it (downstream, orange); type in the search box to find jobs by name; the
// platform menu shows one lane. window.stackplanGraph is the page's small API (the browser test
// drives it; a person can too, from the console).
(function () {
  'use strict';
  var root = document.documentElement;
  var data = JSON.parse(document.getElementById('plan-data').textContent);
  var panel = document.getElementById('details');
  var searchBox = document.getElementById('search');
  var platformMenu = document.getElementById('platform');
  var status = document.getElementById('status');
  var JOB_H = 22, GAP = 6, PAD = 8, TITLE = 18, CHAR = 6.6;
  var jobs = {};
  data.jobs.forEach(function (j) { jobs[j.id] = j; });

  function textWidth(text, size) { return String(text).length * CHAR * size / 11; }

  var elements = [];
  data.boxes.forEach(function (b) {
    if (b.jobs.length > 1) {
      elements.push({ group: 'nodes', classes: 'recipe', data: { id: b.id, label: b.label, lane: b.lane } });
    }
  });
  data.jobs.forEach(function (j) {
    var d = { id: j.id, label: j.tag, lane: j.lane, colour: j.colour, text: j.search,
              w: Math.max(40, textWidth(j.tag, 11) + 14) };
    if (j.boxed) d.parent = j.box;
    elements.push({ group: 'nodes', classes: 'job' + (j.skipped ? ' skipped' : ''), data: d });
  });
  data.edges.forEach(function (e, i) {
    elements.push({ group: 'edges', classes: e.via ? 'via' : '',
                    data: { id: 'e' + i, source: e.source, target: e.target, lane: jobs[e.target].lane } });
  });

  var many = data.jobs.length > 600;
  var cy = cytoscape({
    container: document.getElementById('graph'),
    elements: elements,
    layout: { name: 'preset' },
    wheelSensitivity: 0.3,
    minZoom: 0.01,
    maxZoom: 3,
    textureOnViewport: many,
    hideEdgesOnViewport: many,
    style: [
      { selector: 'node.job', style: {
          'shape': 'round-rectangle', 'background-color': 'data(colour)', 'border-width': 1,
          'border-color': '#555', 'label': 'data(label)', 'font-size': 11, 'text-valign': 'center',
          'text-halign': 'center', 'width': 'data(w)', 'height': JOB_H, 'min-zoomed-font-size': 7 } },
      { selector: 'node.job.skipped', style: { 'border-style': 'dashed', 'color': '#666' } },
      { selector: 'node.recipe', style: {
          'shape': 'round-rectangle', 'background-color': '#f6f6f6', 'border-color': '#999',
          'border-width': 1, 'label': 'data(label)', 'font-size': 11, 'font-weight': 'bold',
          'text-valign': 'top', 'text-halign': 'center', 'padding': PAD + 'px',
          'min-zoomed-font-size': 7 } },
      { selector: 'node.lane-title', style: {
          'shape': 'rectangle', 'background-opacity': 0, 'label': 'data(label)', 'font-size': 24,
          'font-weight': 'bold', 'color': '#333', 'text-halign': 'right', 'text-valign': 'center',
          'width': 1, 'height': 1, 'events': 'no' } },
      { selector: 'edge', style: {
          'width': 1, 'line-color': '#b8b8b8', 'target-arrow-color': '#b8b8b8',
          'target-arrow-shape': 'triangle', 'arrow-scale': 0.7,
          'curve-style': many ? 'haystack' : 'bezier' } },
      { selector: 'edge.via', style: { 'line-style': 'dashed' } },
      { selector: '.faded', style: { 'opacity': 0.1 } },
      { selector: 'node.up', style: { 'border-color': '#0072B2', 'border-width': 3 } },
      { selector: 'edge.up', style: { 'line-color': '#0072B2', 'target-arrow-color': '#0072B2', 'width': 2,
                                       'curve-style': 'bezier', 'z-index': 9 } },
      { selector: 'node.down', style: { 'border-color': '#D55E00', 'border-width': 3 } },
      { selector: 'edge.down', style: { 'line-color': '#D55E00', 'target-arrow-color': '#D55E00',
                                         'width': 2, 'curve-style': 'bezier', 'z-index': 9 } },
      { selector: 'node.focus', style: { 'border-color': '#000', 'border-width': 4 } },
      { selector: 'node.match', style: { 'border-color': '#CC79A7', 'border-width': 4 } },
      { selector: '.hidden', style: { 'display': 'none' } }
    ]
  });

  // --- layout -------------------------------------------------------------------------------------
  // Each box's size: its jobs stacked in a column under the recipe's title.
  function boxSize(b) {
    var w = 0;
    b.jobs.forEach(function (id) { w = Math.max(w, cy.getElementById(id).data('w')); });
    if (b.jobs.length === 1) return { w: w, h: JOB_H };
    w = Math.max(w, textWidth(b.label, 11)) + 2 * PAD;
    return { w: w, h: TITLE + b.jobs.length * (JOB_H + GAP) - GAP + 2 * PAD };
  }

  // dagre over the recipe boxes of one lane, in a headless Cytoscape: box id -> centre, and the extent.
  function placeBoxes(boxes, links) {
    var els = [];
    boxes.forEach(function (b) {
      var s = boxSize(b);
      els.push({ group: 'nodes', data: { id: b.id, w: s.w, h: s.h } });
    });
    links.forEach(function (l, i) {
      els.push({ group: 'edges', data: { id: 'l' + i, source: l[0], target: l[1] } });
    });
    var h = cytoscape({ headless: true, styleEnabled: true, elements: els,
                        style: [{ selector: 'node', style: { width: 'data(w)', height: 'data(h)',
                                                              shape: 'rectangle' } }] });
    // the links form a forest of one-rank edges (layout_links), so a tight tree is already optimal
    h.layout({ name: 'dagre', rankDir: 'LR', nodeSep: 10, rankSep: 70, fit: false, animate: false,
               ranker: 'tight-tree' }).run();
    var out = {}, box = h.elements().boundingBox();
    h.nodes().forEach(function (n) {
      out[n.id()] = { x: n.position('x') - box.x1, y: n.position('y') - box.y1, h: n.data('h') };
    });
    h.destroy();
    return { centres: out, width: box.w, height: box.h };
  }

  // The whole graph if its labels stay readable; otherwise its top left corner at a readable zoom
  // (a distribution's lane is tall: hundreds of recipes in the first columns).
  function overview() {
    var shown = cy.elements(':visible');
    cy.fit(shown, 30);
    if (cy.zoom() < 0.3) {
      var box = shown.boundingBox();
      cy.zoom(0.6);
      cy.pan({ x: 30 - box.x1 * 0.6, y: 30 - box.y1 * 0.6 });
    }
  }

  function lanesShown() {
    var chosen = platformMenu.value;
    return data.lanes.filter(function (l) { return !chosen || l === chosen; });
  }

  function layout() {
    var started = Date.now();
    var shown = lanesShown();
    cy.remove('node.lane-title');
    cy.batch(function () {
      cy.elements().forEach(function (el) {
        if (shown.indexOf(el.data('lane')) >= 0) el.removeClass('hidden'); else el.addClass('hidden');
      });
      var top = 0;
      shown.forEach(function (lane) {
        var boxes = data.boxes.filter(function (b) { return b.lane === lane; });
        if (boxes.length === 0) return;
        top += 70;  // room for the lane's title
        var placed = placeBoxes(boxes, data.links[lane] || []);
        boxes.forEach(function (b) {
          var c = placed.centres[b.id];
          var y = top + c.y - c.h / 2 + (b.jobs.length > 1 ? PAD + TITLE : 0) + JOB_H / 2;
          b.jobs.forEach(function (id, i) {
            cy.getElementById(id).position({ x: c.x, y: y + i * (JOB_H + GAP) });
          });
        });
        cy.add({ group: 'nodes', classes: 'lane-title', data: { id: 'lane:' + lane, label: lane },
                 position: { x: 0, y: top - 40 } });
        top += placed.height + 40;
      });
    });
    overview();
    root.setAttribute('data-layout-ms', String(Date.now() - started));
  }

  // --- details, highlight ---------------------------------------------------------------------
  function showDetails(id) {
    var n = jobs[id];
    if (!n) return;
    panel.textContent = '';
    n.rows.forEach(function (r) {
      var dt = document.createElement('dt'); dt.textContent = r[0];
      var dd = document.createElement('dd'); dd.textContent = r[1];
      panel.appendChild(dt); panel.appendChild(dd);
    });
  }

  function clear() {
    cy.elements().removeClass('faded up down focus match');
    status.textContent = '';
  }

  // Edges are drawn transitively reduced, which keeps reachability: predecessors() is all upstream.
  function select(id) {
    var node = cy.getElementById(id);
    if (node.empty() || node.hasClass('lane-title')) return null;
    clear();
    var members = node.isParent() ? node.children() : node;
    var up = members.predecessors(), down = members.successors();
    cy.batch(function () {
      cy.elements().addClass('faded');
      members.union(node).union(members.parents()).removeClass('faded').addClass('focus');
      up.union(up.nodes().parents()).removeClass('faded').addClass('up');
      down.union(down.nodes().parents()).removeClass('faded').addClass('down');
    });
    if (!node.isParent()) showDetails(id);
    var ids = function (c) { return c.nodes('.job').not(members).map(function (n) { return n.id(); }).sort(); };
    var result = { upstream: ids(up), downstream: ids(down) };
    status.textContent = (node.isParent() ? node.data('label') : id) + ': waits for '
      + result.upstream.length + ' job(s); ' + result.downstream.length + ' job(s) wait for it';
    return result;
  }

  function search(text) {
    clear();
    var q = String(text || '').trim().toLowerCase();
    if (!q) return [];
    var hits = cy.nodes('.job').filter(function (n) {
      return !n.hasClass('hidden') && n.data('text').indexOf(q) >= 0;
    });
    cy.batch(function () {
      cy.elements().addClass('faded');
      hits.union(hits.parents()).removeClass('faded');
      hits.addClass('match');
    });
    status.textContent = hits.length + ' job(s) match "' + text + '"';
    if (hits.length) cy.fit(hits, 60);
    if (hits.length === 1) select(hits[0].id());
    return hits.map(function (n) { return n.id(); }).sort();
  }

  function showPlatform(lane) {
    platformMenu.value = lane || '';
    clear();
    layout();
    return cy.nodes('.job').filter(function (n) { return !n.hasClass('hidden'); }).length;
  }

  cy.on('tap', 'node.job, node.recipe', function (evt) { select(evt.target.id()); });
  cy.on('tap', function (evt) { if (evt.target === cy) clear(); });
  cy.on('mouseover', 'node.job', function (evt) { showDetails(evt.target.id()); });
  searchBox.addEventListener('input', function () { search(searchBox.value); });
  searchBox.addEventListener('keydown', function (evt) {
    if (evt.key === 'Escape') { searchBox.value = ''; clear(); overview(); }
  });
  platformMenu.addEventListener('change', function () { showPlatform(platformMenu.value); });
  document.getElementById('fit').addEventListener('click', function () {
    clear(); cy.fit(cy.elements(':visible'), 30);  // everything, however small
  });

  layout();
  window.stackplanGraph = { cy: cy, select: select, search: search, showPlatform: showPlatform,
                            clear: clear };
  root.setAttribute('data-ready', String(cy.nodes('.job').length));
})();
