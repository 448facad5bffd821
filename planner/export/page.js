// Shows a job's details on hover; marks the page ready with the number of jobs it knows.
(function () {
  var data = JSON.parse(document.getElementById('plan-data').textContent);
  var panel = document.getElementById('details');
  function show(id) {
    var n = data[id]; if (!n) return;
    panel.textContent = '';
    var rows = [['job', id], ['recipe', n.recipe], ['platform', n.platform + ' (built on ' + n.build_platform + ')'],
                ['layer', n.layer], ['selected', n.selected], ['skipped', n.skipped || '-'],
                ['outputs', n.outputs], ['variant', n.variant], ['waits for', n.waits.join(', ') || '-'],
                ['pool', n.pool + ' / tests: ' + n.test_pool]];
    rows.forEach(function (r) {
      var dt = document.createElement('dt'); dt.textContent = r[0];
      var dd = document.createElement('dd'); dd.textContent = r[1];
      panel.appendChild(dt); panel.appendChild(dd);
    });
  }
  document.querySelectorAll('[data-id]').forEach(function (el) {
    el.addEventListener('mouseenter', function () { show(el.getAttribute('data-id')); });
    el.addEventListener('focus', function () { show(el.getAttribute('data-id')); });
  });
  document.documentElement.setAttribute('data-ready', String(Object.keys(data).length));
})();
