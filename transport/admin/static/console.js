'use strict';
// The HYVVE gateway operator console. Plain JavaScript, no dependencies.
// The admin key lives in sessionStorage and goes out only as an
// Authorization header: the event stream is read with fetch() for that
// reason (EventSource cannot send headers). Everything from the gateway is
// put in the page as text, never as HTML.

(() => {
  const KEY = 'hyvve-admin-key';
  const POINTS = 60; // chart history, one point per stats event
  const $ = (id) => document.getElementById(id);
  let key = sessionStorage.getItem(KEY) || '';
  let features = { faultInjection: false };
  let streamAbort = null;
  let pollTimer = null;
  let refreshTimer = null;
  let prev = null; // the previous stats event
  const series = { rate: [], deliveries: [], mean: [], p95: [] };
  const closed = new Set(); // tree nodes the operator folded
  const opened = new Set(); // and unfolded

  // ------------------------------------------------------------ API
  function api(path, opts = {}) {
    const headers = Object.assign({ Authorization: `Bearer ${key}` }, opts.headers || {});
    return fetch(path, Object.assign({}, opts, { headers, cache: 'no-store' }));
  }

  async function login(candidate) {
    key = candidate;
    const res = await api('/admin/api/snapshot').catch(() => null);
    if (!res || res.status === 401) {
      logout(res ? 'Wrong admin key.' : 'The gateway did not answer.');
      return;
    }
    sessionStorage.setItem(KEY, key);
    $('login').hidden = true;
    $('console').hidden = false;
    $('logout').hidden = false;
    $('login-error').textContent = '';
    if (res.ok) render(await res.json());
    openStream();
    pollTimer = setInterval(refresh, 2000);
  }

  function logout(message) {
    key = '';
    sessionStorage.removeItem(KEY);
    if (streamAbort) streamAbort.abort();
    streamAbort = null;
    clearInterval(pollTimer);
    $('console').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    $('key').value = '';
    $('login-error').textContent = message || '';
    setStatus('off', 'offline');
  }

  async function refresh() {
    const res = await api('/admin/api/snapshot').catch(() => null);
    if (!res) return;
    if (res.status === 401) return logout('The admin key was refused.');
    if (res.ok) render(await res.json());
  }

  // A supervision decision changes the tree: look again soon, once.
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 150);
  }

  // ------------------------------------------------------------ stream
  async function openStream() {
    const ctl = new AbortController();
    streamAbort = ctl;
    let backoff = 500;
    while (streamAbort === ctl) {
      try {
        const res = await api('/admin/api/events', { signal: ctl.signal });
        if (res.status === 401) return logout('The admin key was refused.');
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        setStatus('on', 'live');
        backoff = 500;
        await readEvents(res.body, ctl);
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      setStatus('bad', 'reconnecting');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 10000);
    }
  }

  async function readEvents(body, ctl) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done || ctl.signal.aborted) return;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) dispatch(event, JSON.parse(data));
      }
    }
  }

  function dispatch(event, data) {
    switch (event) {
      case 'stats': return onStats(data);
      case 'supervision': feed('supervision', data.time, `${data.directive} · ${data.kind} ${data.actor} — ${data.reason}`); return refreshSoon();
      case 'security': return feed('security', data.time, securityText(data));
      case 'dropped': return feed('notice', Date.now(), `${data.events} feed events dropped (the console fell behind)`);
    }
  }

  // The log line's own fields, in its order.
  function securityText(e) {
    const parts = [e.event || e.msg];
    for (const k of ['user_id', 'workspace_id', 'ip', 'room', 'sid', 'detail', 'suppressed']) {
      if (e[k] !== undefined && e[k] !== '') parts.push(`${k}=${e[k]}`);
    }
    return parts.join(' ');
  }

  function feed(kind, time, text) {
    const li = document.createElement('li');
    li.className = kind;
    const t = document.createElement('time');
    t.textContent = new Date(time).toLocaleTimeString();
    const b = document.createElement('span');
    b.className = 'badge';
    b.textContent = kind;
    li.append(t, b, document.createTextNode(text));
    const list = $('feed');
    list.prepend(li);
    while (list.children.length > 200) list.lastChild.remove();
  }

  function setStatus(cls, text) {
    const s = $('status');
    s.className = `status ${cls}`;
    s.textContent = text;
  }

  // ------------------------------------------------------------ stats
  function onStats(s) {
    $('c-connections').textContent = fmt(s.connections);
    $('c-rooms').textContent = fmt(s.rooms);
    $('c-workspaces').textContent = fmt(s.workspaces);
    $('c-restarts').textContent = fmt(s.restarts);
    $('c-security').textContent = fmt(s.securityEvents);
    if (prev && s.time > prev.time) {
      const dt = (s.time - prev.time) / 1000;
      const rate = Math.max(0, (s.broadcasts - prev.broadcasts) / dt);
      const deliveries = Math.max(0, (s.deliveries - prev.deliveries) / dt);
      const n = s.fanout.count - prev.fanout.count;
      const mean = n > 0 ? ((s.fanout.sum - prev.fanout.sum) / n) * 1000 : null;
      const p95 = n > 0 ? quantile(0.95, s.fanout.buckets, prev.fanout.buckets, n) * 1000 : null;
      push('rate', rate); push('deliveries', deliveries); push('mean', mean); push('p95', p95);
      $('c-rate').textContent = rate.toFixed(1);
      $('c-deliveries').textContent = deliveries.toFixed(0);
      if (p95 !== null) $('c-p95').textContent = `${p95.toFixed(2)} ms`;
      drawChart($('chart-rate'), [{ data: series.rate, color: '#4fb3ff', label: 'broadcasts/s' }, { data: series.deliveries, color: '#38d39f', label: 'deliveries/s' }]);
      drawChart($('chart-latency'), [{ data: series.mean, color: '#4fb3ff', label: 'mean ms' }, { data: series.p95, color: '#ffb347', label: 'p95 ms' }]);
    }
    prev = s;
  }

  function push(name, v) {
    series[name].push(v);
    if (series[name].length > POINTS) series[name].shift();
  }

  // q-quantile of the samples between two cumulative histograms, with
  // linear interpolation inside the bucket, as PromQL's histogram_quantile.
  function quantile(q, now, before, total) {
    const rank = q * total;
    let lower = 0;
    let below = 0;
    for (let i = 0; i < now.length; i++) {
      const upper = now[i][0];
      const count = now[i][1] - (before[i] ? before[i][1] : 0);
      if (count >= rank) {
        const inBucket = count - below;
        return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
      }
      lower = upper;
      below = count;
    }
    return lower; // in the +Inf bucket: the largest finite bound
  }

  function plural(n, word) { return `${n} ${word}${n === 1 ? '' : 's'}`; }

  function fmt(v) { return Number.isFinite(v) ? Math.round(v).toLocaleString() : '–'; }

  function drawChart(canvas, lines) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width;
    const h = canvas.clientHeight || canvas.height;
    if (canvas.width !== w * dpr) { canvas.width = w * dpr; canvas.height = h * dpr; }
    canvas.dataset.points = String(Math.max(...lines.map((l) => l.data.length)));
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const pad = { l: 44, r: 8, t: 18, b: 14 };
    let max = 0;
    for (const l of lines) for (const v of l.data) if (v !== null && v > max) max = v;
    max = niceMax(max);
    g.font = '11px system-ui, sans-serif';
    g.strokeStyle = '#26304a';
    g.fillStyle = '#8390ad';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + ((h - pad.t - pad.b) * i) / 4;
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
      const v = max * (1 - i / 4);
      g.fillText(v >= 10 ? v.toFixed(0) : v.toFixed(2), 4, y + 4);
    }
    let x0 = pad.l;
    lines.forEach((l) => {
      g.fillStyle = l.color;
      g.fillRect(x0, 4, 10, 3);
      g.fillText(l.label, x0 + 14, 10);
      x0 += g.measureText(l.label).width + 30;
    });
    const step = (w - pad.l - pad.r) / (POINTS - 1);
    for (const l of lines) {
      g.strokeStyle = l.color;
      g.lineWidth = 1.8;
      g.beginPath();
      let pen = false;
      const off = POINTS - l.data.length;
      l.data.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        const x = pad.l + (off + i) * step;
        const y = pad.t + (h - pad.t - pad.b) * (1 - v / max);
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      });
      g.stroke();
    }
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // ------------------------------------------------------------ snapshot
  function render(body) {
    features = body.features || features;
    const snap = body.snapshot;
    $('faults').hidden = !features.faultInjection;
    document.body.classList.toggle('faults-on', !!features.faultInjection);
    $('c-actors').textContent = fmt(snap.actors);
    renderConnections(snap.connections);
    renderRooms(snap.rooms, snap.roomsOmitted);
    $('tree-note').textContent = snap.partial ? 'partial: some actors did not answer in time' : `${snap.actors} actors`;
    renderTree(snap.tree);
  }

  function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function renderConnections(rows) {
    const body = $('connections').tBodies[0];
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.workspace = r.workspace;
      tr.dataset.transport = r.transport;
      tr.append(cell(r.workspace), cell(r.transport), cell(String(r.count), 'num count'));
      return tr;
    }));
  }

  function renderRooms(rows, omitted) {
    $('rooms-note').textContent = omitted ? `(${omitted} more not listed)` : '';
    const body = $('rooms').tBodies[0];
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.room = r.name;
      const act = document.createElement('td');
      if (features.faultInjection) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'small panic';
        b.textContent = 'panic';
        b.title = `inject a panic into ${r.name}`;
        b.addEventListener('click', () => inject('room', r.name, 'panic'));
        act.append(b);
      }
      tr.append(cell(r.name), cell(String(r.members), 'num members'), cell(String(r.present || 0), 'num present'), cell(String(r.restarts), r.restarts > 0 ? 'num restart-count hot' : 'num restart-count'), act);
      return tr;
    }));
  }

  function renderTree(root) {
    const box = $('tree');
    const ul = document.createElement('ul');
    if (root) ul.append(treeNode(root, 0));
    box.replaceChildren(ul);
  }

  function treeNode(n, depth) {
    const li = document.createElement('li');
    li.dataset.id = n.id;
    li.dataset.kind = n.kind;
    li.dataset.name = n.name;
    li.dataset.restarts = String(n.restarts);
    const label = document.createElement('span');
    const kind = document.createElement('span');
    kind.className = `kind kind-${n.kind}`;
    kind.textContent = n.kind;
    label.append(kind, document.createTextNode(n.name));
    const meta = [];
    if (n.kind === 'room') meta.push(plural(n.members || 0, 'member'), `${n.present || 0} present`);
    if (n.kind === 'iplimiter') meta.push(`${n.members || 0} held`);
    if (n.kind === 'connection') meta.push(`${n.user} · ${n.transport} · ${plural(n.rooms || 0, 'room')}`);
    if (meta.length) {
      const m = document.createElement('span');
      m.className = 'meta';
      m.textContent = meta.join(' ');
      label.append(m);
    }
    if (n.restarts > 0) {
      const r = document.createElement('span');
      r.className = 'restarts';
      r.textContent = `↻ ${n.restarts}`;
      r.title = `${n.restarts} restarts`;
      label.append(r);
    }
    const kids = n.children || [];
    if (!kids.length) {
      li.append(label);
      return li;
    }
    const d = document.createElement('details');
    // Open by default: the gateway, workspaces, and small parents; a
    // connection (its limiter) and a crowd of user rooms start folded.
    d.open = opened.has(n.id) || !closed.has(n.id) && n.kind !== 'connection' && (n.kind === 'gateway' || n.kind === 'workspace' || kids.length <= 12);
    d.addEventListener('toggle', () => {
      if (d.open) { closed.delete(n.id); opened.add(n.id); } else { opened.delete(n.id); closed.add(n.id); }
    });
    const s = document.createElement('summary');
    s.append(label);
    const ul = document.createElement('ul');
    for (const c of kids) ul.append(treeNode(c, depth + 1));
    if (n.omitted) {
      const more = document.createElement('li');
      more.className = 'meta';
      more.textContent = `… ${n.omitted} more`;
      ul.append(more);
    }
    d.append(s, ul);
    li.append(d);
    return li;
  }

  // ------------------------------------------------------------ forms
  async function publish(ev) {
    ev.preventDefault();
    const out = $('publish-result');
    let data;
    try { data = JSON.parse($('pub-data').value || 'null'); } catch (e) {
      out.className = 'error';
      out.textContent = 'data is not JSON';
      return;
    }
    const res = await api('/admin/api/publish', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ room: $('pub-room').value, event: $('pub-event').value, data }),
    }).catch(() => null);
    const body = res ? await res.json().catch(() => ({})) : { error: 'no answer' };
    out.className = res && res.ok ? '' : 'error';
    out.textContent = res && res.ok ? `Queued to ${body.recipients} member${body.recipients === 1 ? '' : 's'}${body.partial ? ' (partial)' : ''}.` : `Refused: ${body.error}`;
  }

  async function inject(kind, target, fault, durationMs) {
    const out = $('fault-result');
    const req = { kind, target, fault };
    if (fault === 'stall') req.duration_ms = durationMs;
    const res = await api('/debug/faults', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req) }).catch(() => null);
    const body = res ? await res.json().catch(() => ({})) : { error: 'no answer' };
    out.className = res && res.ok ? '' : 'error';
    out.textContent = res && res.ok
      ? `${fault} armed in ${body.injected} ${kind} actor${body.injected === 1 ? '' : 's'} (${target}); it fires on the actor's next message.`
      : `Refused: ${body.error}`;
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (ev) => { ev.preventDefault(); login($('key').value); });
    $('logout').addEventListener('click', () => logout(''));
    $('publish-form').addEventListener('submit', publish);
    $('fault-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      inject($('fault-kind').value, $('fault-target').value, $('fault-fault').value, Number($('fault-duration').value));
    });
    if (key) login(key);
  });
})();
