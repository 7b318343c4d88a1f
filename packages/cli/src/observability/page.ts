/**
 * The status page of the observability server: one self-contained HTML document (inline
 * style and script, no build step, nothing fetched from elsewhere) that draws
 * slot → capture → topics → each projection from `status.json`, with the lag of every
 * stage, and refreshes itself. Every value carries a `data-field` attribute, so tests (and
 * scrapers) read exactly what a person sees.
 */

/** Seconds between refreshes unless the page is opened with `?refresh=<seconds>`. */
export const STATUS_PAGE_REFRESH_SECONDS = 2;

/** The page, served as is on `/status`. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tributary pipeline</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 18px; margin: 0 0 4px; }
  #updated { color: #667; font-size: 12px; margin-bottom: 16px; }
  #pipeline { display: flex; align-items: flex-start; gap: 8px; flex-wrap: wrap; }
  .stage { background: #fff; border: 1px solid #d5d9e0; border-radius: 8px; padding: 12px 14px; min-width: 190px; }
  .stage h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #556; margin: 0 0 8px; }
  .arrow { align-self: center; font-size: 22px; color: #99a; }
  .row { display: flex; justify-content: space-between; gap: 12px; }
  .row span:first-child { color: #667; }
  .lag { font-weight: 600; }
  .ok { color: #137333; } .warn { color: #b06000; } .bad { color: #c5221f; }
  .item { border-top: 1px solid #eef0f3; padding-top: 6px; margin-top: 6px; }
  .name { font-weight: 600; word-break: break-all; }
  #error { color: #c5221f; margin-top: 12px; }
</style>
</head>
<body>
<h1>Tributary pipeline</h1>
<div id="updated">loading…</div>
<div id="pipeline"></div>
<div id="error"></div>
<script>
(function () {
  var params = new URLSearchParams(location.search);
  var refresh = Number(params.get('refresh')) || ${STATUS_PAGE_REFRESH_SECONDS};
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function row(label, value, field, cls) {
    var r = el('div', 'row');
    r.appendChild(el('span', '', label));
    var v = el('span', cls || '', value === null || value === undefined ? '-' : String(value));
    v.setAttribute('data-field', field);
    r.appendChild(v);
    return r;
  }
  function bytes(n) {
    if (n === null || n === undefined) return '-';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }
  function lagClass(n) { return n === 0 ? 'lag ok' : n < 1000 ? 'lag warn' : 'lag bad'; }
  function stage(title, id) {
    var s = el('div', 'stage');
    s.id = id;
    s.appendChild(el('h2', '', title));
    return s;
  }
  function arrow() { return el('div', 'arrow', '→'); }
  function draw(status) {
    var pipeline = document.getElementById('pipeline');
    pipeline.textContent = '';
    var slot = status.capture.slot;
    var s = stage('Slot', 'slot');
    s.appendChild(row('name', slot.name, 'slot.name'));
    s.appendChild(row('state', slot.exists ? (slot.active ? 'active' : 'inactive') : 'missing', 'slot.state', slot.exists && slot.active ? 'ok' : 'bad'));
    s.appendChild(row('confirmed', slot.confirmedLsn, 'slot.confirmedLsn'));
    s.appendChild(row('retained WAL', bytes(slot.retainedWalBytes), 'slot.retainedWal'));
    s.appendChild(row('lag', bytes(slot.lagBytes), 'slot.lag', 'lag'));
    pipeline.appendChild(s);
    pipeline.appendChild(arrow());
    var c = stage('Capture', 'capture');
    c.appendChild(row('name', status.capture.name, 'capture.name'));
    c.appendChild(row('state', status.capture.capturer, 'capture.state', status.capture.capturer === 'streaming' ? 'ok' : 'bad'));
    c.appendChild(row('checkpoint', status.capture.checkpointLsn, 'capture.checkpoint'));
    pipeline.appendChild(c);
    pipeline.appendChild(arrow());
    var t = stage('Topics', 'topics');
    if (status.topics.length === 0) t.appendChild(el('div', '', 'none yet'));
    status.topics.forEach(function (topic) {
      var item = el('div', 'item');
      item.setAttribute('data-topic', topic.topic);
      var name = el('div', 'name', topic.topic);
      name.setAttribute('data-field', 'topic.name');
      item.appendChild(name);
      item.appendChild(row('end offset', topic.endOffset, 'topic.endOffset'));
      t.appendChild(item);
    });
    pipeline.appendChild(t);
    pipeline.appendChild(arrow());
    var p = stage('Projections', 'projections');
    if (status.projections.length === 0) p.appendChild(el('div', '', 'none registered'));
    status.projections.forEach(function (projection) {
      var item = el('div', 'item');
      item.setAttribute('data-projection', projection.projection + '@' + projection.version);
      var name = el('div', 'name', projection.projection + ' v' + projection.version);
      name.setAttribute('data-field', 'projection.name');
      item.appendChild(name);
      item.appendChild(row('state', projection.status, 'projection.status'));
      item.appendChild(row('lag (records)', projection.lag, 'projection.lag', lagClass(projection.lag)));
      item.appendChild(row('parked events', projection.parkedEvents, 'projection.parked', projection.parkedEvents > 0 ? 'bad' : ''));
      p.appendChild(item);
    });
    pipeline.appendChild(p);
    var updated = document.getElementById('updated');
    updated.textContent = 'updated ' + new Date().toLocaleTimeString() + ' · refreshes every ' + refresh + ' s';
    updated.setAttribute('data-loaded', 'true');
  }
  function load() {
    fetch('status.json', { cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('status.json answered ' + response.status);
        return response.json();
      })
      .then(function (status) { document.getElementById('error').textContent = ''; draw(status); })
      .catch(function (error) { document.getElementById('error').textContent = String(error); })
      .then(function () { setTimeout(load, refresh * 1000); });
  }
  load();
})();
</script>
</body>
</html>
`;
