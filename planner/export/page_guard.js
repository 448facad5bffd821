// Records every script or resource error in the root element's data-errors attribute (read by the browser test).
(function () {
  var root = document.documentElement, errors = [];
  function record(msg) { errors.push(String(msg)); root.setAttribute('data-errors', JSON.stringify(errors)); }
  window.addEventListener('error', function (e) {
    record(e.message || ('resource failed: ' + (e.target && (e.target.src || e.target.href))));
  }, true);
  window.addEventListener('unhandledrejection', function (e) { record(e.reason); });
  var original = console.error;
  console.error = function () {
    record(Array.prototype.join.call(arguments, ' '));
    original.apply(console, arguments);
  };
})();
