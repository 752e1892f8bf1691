/* app.js: the illgan dashboard. Polls the daemon's HTTP API (docs/API.md) and steers it.
 *
 * What it guarantees:
 * - It uses only the documented API, over same-origin fetch; nothing is loaded from elsewhere.
 * - Time series, stored sample grids and events are fetched incrementally (`since`,
 *   `since_id`) and kept in memory once; a daemon restart (a new `started_at` or `run_id`)
 *   empties them and loads again, because a restart from a checkpoint rewinds history.
 * - Buttons show the state the daemon confirmed in its reply, never an optimistic guess, and
 *   a status poll that started before an action's reply cannot overwrite that reply.
 * - A 401 asks for the token once (one prompt shared by every request), keeps it in
 *   sessionStorage for this tab and retries; a refused action says why, in words.
 * - Losing the daemon is shown in a banner and retried with a bounded back-off; coming back
 *   is said too. Nothing is written to the console on purpose.
 * Single global: none (everything lives in this closure). */
'use strict';
(function () {
    const { Chart } = window.IllganChart;
    const TOKEN_KEY = 'illgan.token';
    const $ = (id) => document.getElementById(id);

    /* ---------- formatting ---------- */

    const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

    function fmtDuration(s) {
        if (!Number.isFinite(s)) return '–';
        s = Math.max(0, s);
        if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
        const m = Math.floor(s / 60);
        if (m < 60) return m + ' min ' + Math.floor(s % 60) + ' s';
        const h = Math.floor(m / 60);
        if (h < 48) return h + ' h ' + (m % 60) + ' min';
        return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
    }

    function fmtShortDuration(s) {
        if (s === 0) return '0';
        const sign = s < 0 ? '-' : '';
        s = Math.abs(s);
        if (s < 60) return sign + Math.round(s) + 's';
        if (s < 3600) return sign + Math.floor(s / 60) + 'm' + (s % 60 ? Math.round(s % 60) + 's' : '');
        if (s < 86400) return sign + Math.floor(s / 3600) + 'h' + (s % 3600 >= 60 ? Math.floor(s % 3600 / 60) + 'm' : '');
        return sign + Math.floor(s / 86400) + 'd' + (s % 86400 >= 3600 ? Math.floor(s % 86400 / 3600) + 'h' : '');
    }

    const pad2 = (n) => String(n).padStart(2, '0');
    function fmtClock(t, withSeconds = true) {
        const d = new Date(t * 1000);
        return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (withSeconds ? ':' + pad2(d.getSeconds()) : '');
    }
    function fmtDate(t) {
        const d = new Date(t * 1000);
        return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
    }
    const fmtDateTime = (t) => fmtDate(t) + ' ' + fmtClock(t);

    function fmtAgo(t) {
        if (!Number.isFinite(t)) return '';
        const s = Date.now() / 1000 - t;
        if (s < 5) return 'just now';
        if (s < 60) return Math.round(s) + ' s ago';
        if (s < 3600) return Math.round(s / 60) + ' min ago';
        if (s < 86400) return Math.round(s / 3600) + ' h ago';
        return fmtDate(t);
    }

    function fmtBytes(b) {
        if (!Number.isFinite(b)) return '';
        if (b < 1024) return b + ' B';
        if (b < 1048576) return (b / 1024).toFixed(1) + ' KiB';
        return (b / 1048576).toFixed(1) + ' MiB';
    }

    function fmtNum(v) {
        if (typeof v === 'boolean') return String(v);
        if (typeof v !== 'number') return v === null || v === undefined ? '–' : String(v);
        return String(v);
    }

    function el(tag, attrs, ...children) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (k === 'class') e.className = v;
            else if (k === 'text') e.textContent = v;
            else if (k.includes('-')) e.setAttribute(k, v);
            else e[k] = v;
        }
        for (const c of children) if (c !== null && c !== undefined) e.append(c);
        return e;
    }

    /* ---------- messages ---------- */

    function toast(message, kind = 'info', ms = 6000) {
        const t = el('div', { class: 'toast toast-' + kind, text: message, role: kind === 'error' ? 'alert' : 'status',
            title: 'click to dismiss' });
        t.addEventListener('click', () => t.remove());
        $('toasts').appendChild(t);
        setTimeout(() => t.classList.add('leaving'), ms);
        setTimeout(() => t.remove(), ms + 400);
        while ($('toasts').children.length > 5) $('toasts').firstChild.remove();
    }

    let bannerTimer = null;
    function banner(message, kind, autoHideMs, action) {
        const b = $('banner');
        clearTimeout(bannerTimer);
        if (!message) { b.hidden = true; b.textContent = ''; return; }
        b.className = 'banner banner-' + kind;
        b.textContent = message;
        if (action) {
            const btn = el('button', { type: 'button', class: 'ghost', text: action.label });
            btn.addEventListener('click', action.run);
            b.append(' ', btn);
        }
        b.hidden = false;
        if (autoHideMs) bannerTimer = setTimeout(() => { b.hidden = true; }, autoHideMs);
    }

    /* Why an action did not happen, for a person. */
    function refusal(what, e) {
        if (e.status === 0) return what + ' failed: the daemon cannot be reached.';
        if (e.status === 401) return what + ' refused: the daemon needs a valid access token (401 unauthorized).';
        if (e.status === 409) return what + ' refused: the daemon is stopping (409 conflict).';
        if (e.status === 429) return what + ' refused: the daemon is busy generating images; try again in a moment (429).';
        if (e.status === 503) return what + ' not possible yet: ' + e.message + ' (503).';
        return what + ' refused: ' + e.message + ' (' + e.status + ' ' + e.code + ').';
    }

    /* ---------- the HTTP API ---------- */

    class ApiError extends Error {
        constructor(status, code, message, field, retryAfter) {
            super(message);
            this.status = status;
            this.code = code;
            this.field = field;
            this.retryAfter = retryAfter || 0;
        }
    }

    function storedToken() {
        try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; }
    }
    function storeToken(t) {
        try {
            if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
        } catch (_) { /* storage disabled: the token lives only until reload */ }
        memoryToken = t;
        renderTokenButton();
    }
    let memoryToken = storedToken();

    async function errorFrom(res) {
        let code = 'http_' + res.status, message = res.status + ' ' + res.statusText, field = null;
        try {
            const j = await res.json();
            if (j && j.error) {
                code = j.error.code || code;
                message = j.error.message || message;
                field = j.error.field === undefined ? null : j.error.field;
            }
        } catch (_) { /* not JSON: keep the status line */ }
        return new ApiError(res.status, code, message, field, Number(res.headers.get('Retry-After')) || 0);
    }

    /* One request; on 401 asks for the token (interactive requests always, background ones
     * unless the person already declined) and tries again. Resolves to the ok Response. */
    async function request(method, path, opts = {}) {
        for (let attempt = 0; ; attempt++) {
            const headers = {};
            const tok = memoryToken;
            if (tok) headers.Authorization = 'Bearer ' + tok;
            let body;
            if (opts.body !== undefined) {
                headers['Content-Type'] = 'application/json';
                body = JSON.stringify(opts.body);
            }
            let res;
            try {
                res = await fetch(path, { method, headers, body, cache: 'no-store' });
            } catch (_) {
                throw new ApiError(0, 'network', 'the daemon cannot be reached', null);
            }
            if (res.ok) return res;
            const err = await errorFrom(res);
            if (res.status === 401 && attempt < 3) {
                const reason = tok ? 'The daemon refused this token (' + err.message + '). Enter the right one.' :
                    'This daemon requires an access token' + (opts.what ? ' to ' + opts.what : '') + '.';
                if (await askToken(reason, !!opts.interactive)) continue;
            }
            throw err;
        }
    }
    const getJSON = async (path) => (await request('GET', path)).json();

    /* ---------- the token prompt ---------- */

    const auth = { declined: false, pending: null, resolve: null };

    function askToken(reason, interactive) {
        if (auth.pending) return auth.pending;
        if (auth.declined && !interactive) return Promise.resolve(false);
        auth.pending = new Promise((resolve) => {
            auth.resolve = resolve;
            $('token-reason').textContent = reason;
            $('token-input').value = '';
            $('token-dialog').showModal();
            $('token-input').focus();
        });
        return auth.pending;
    }

    function finishToken(ok) {
        const resolve = auth.resolve;
        auth.pending = null;
        auth.resolve = null;
        if ($('token-dialog').open) $('token-dialog').close();
        auth.declined = !ok;
        if (resolve) resolve(ok);
    }

    function bindTokenDialog() {
        $('token-form').addEventListener('submit', (ev) => {
            ev.preventDefault();
            const t = $('token-input').value.trim();
            if (!t) return;
            storeToken(t);
            if (auth.resolve) finishToken(true);
            else { $('token-dialog').close(); toast('Token saved for this tab.', 'ok'); }
        });
        $('token-cancel').addEventListener('click', () => {
            if (auth.resolve) finishToken(false); else $('token-dialog').close();
        });
        $('token-forget').addEventListener('click', () => {
            storeToken('');
            toast('Token forgotten.', 'info');
            if (auth.resolve) finishToken(false); else $('token-dialog').close();
        });
        $('token-dialog').addEventListener('cancel', (ev) => {
            ev.preventDefault();
            if (auth.resolve) finishToken(false); else $('token-dialog').close();
        });
        $('btn-token').addEventListener('click', () => {
            if (auth.pending) return;
            $('token-reason').textContent = memoryToken ? 'A token is set for this tab. Enter another, or forget it.' :
                'Enter the daemon\'s access token (the contents of its auth_token_file).';
            $('token-input').value = '';
            $('token-dialog').showModal();
        });
    }

    function renderTokenButton() {
        const b = $('btn-token');
        const needed = S.status && S.status.auth && S.status.auth.token;
        b.hidden = !needed && !memoryToken;
        b.textContent = memoryToken ? 'Token set' : 'Token';
        b.classList.toggle('has-token', !!memoryToken);
    }

    /* ---------- connection and status ---------- */

    const S = {
        status: null,
        startedAt: null,
        runId: null,
        offline: false,
        offlineSince: 0,
        failures: 0,
        polls: 0,         /* successful status polls, for anyone checking that time passed */
        actionEpoch: 0,   /* bumped by every confirmed action */
        generation: 0,    /* bumped when the data is reset (daemon restarted) */
        pausing: false,
        checkpointing: false,
        needTokenBanner: false,  /* the banner asks for a token that reads need */
    };

    const online = () => S.status !== null && !S.offline;
    const hiddenFactor = () => (document.hidden ? 4 : 1);

    function goOffline() {
        S.failures++;
        if (!S.offline) {
            S.offline = true;
            S.offlineSince = Date.now() / 1000;
            renderStatus();
        }
        const wait = Math.min(5, S.failures);
        banner('Lost contact with the daemon ' + (S.status ? 'at ' + fmtClock(S.offlineSince) : 'at this address') +
            '. Retrying every ' + wait + ' s; what is shown is kept.', 'error');
        return wait * 1000;
    }

    function cameBack(s) {
        const away = Date.now() / 1000 - S.offlineSince;
        S.offline = false;
        S.failures = 0;
        const restarted = S.startedAt !== null && (s.started_at !== S.startedAt || s.run_id !== S.runId);
        banner('Reconnected to the daemon after ' + fmtDuration(away) + '.' +
            (restarted ? ' It restarted (run ' + s.run_id + ', now at step ' + fmtInt(s.step) +
                '): curves, samples and events are reloaded.' : ''), 'ok', 10000);
    }

    async function pollStatus() {
        const epoch = S.actionEpoch;
        let s;
        try {
            s = await getJSON('/api/status');
        } catch (e) {
            if (e.status === 0) return goOffline();
            if (e.status === 401) {
                /* Reads need the token (auth_reads) and none was given: say so, offer the prompt. */
                banner('This daemon needs an access token even to show its status.', 'warn', 0, {
                    label: 'Enter token',
                    run: () => askToken('Enter the daemon\'s access token (the contents of its auth_token_file).', true),
                });
                S.needTokenBanner = true;
            } else {
                banner('The daemon answered /api/status with ' + e.status + ': ' + e.message, 'warn');
            }
            return 3000;
        }
        if (S.offline) cameBack(s);
        else if (!S.status && S.failures) { S.failures = 0; banner('Connected to the daemon.', 'ok', 5000); }
        else if (S.needTokenBanner) banner('');
        S.needTokenBanner = false;
        const restarted = S.startedAt !== null && (s.started_at !== S.startedAt || s.run_id !== S.runId);
        S.startedAt = s.started_at;
        S.runId = s.run_id;
        /* A reply to pause/resume that arrived while this poll was in flight is newer. */
        if (epoch !== S.actionEpoch && S.status) s.state = S.status.state;
        const first = S.status === null;
        S.status = s;
        S.polls++;
        $('state').dataset.polls = String(S.polls);
        renderStatus();
        if (restarted) resetData();
        if (first || restarted || !HP.values) loadHparams().catch(() => {});
        return 1000 * hiddenFactor();
    }

    function renderStatus() {
        const s = S.status;
        const pill = $('state');
        const state = S.offline ? 'offline' : s ? s.state : 'connecting';
        pill.textContent = state === 'connecting' ? 'connecting…' : state;
        pill.dataset.state = state;
        pill.className = 'pill pill-' + state;
        renderTokenButton();
        const pause = $('btn-pause'), ckpt = $('btn-checkpoint');
        if (!s) return;
        $('version').textContent = 'v' + s.version + ' · run ' + s.run_id;
        $('step').textContent = fmtInt(s.step);
        $('step').dataset.step = String(s.step);
        $('ips').textContent = Number.isFinite(s.images_per_second) ? s.images_per_second.toFixed(1) : '–';
        $('ips').title = Number.isFinite(s.iterations_per_second) ?
            s.iterations_per_second.toFixed(2) + ' iterations/s' : 'no iteration yet in this process';
        $('trained').textContent = fmtDuration(s.training_seconds);
        $('trained').title = 'training time, pauses excluded; daemon up ' + fmtDuration(s.uptime_seconds);
        const m = s.model || {};
        $('preset').textContent = (m.preset || '?') + ' · ' + m.side + ' px';
        if (m.params) {
            $('preset').title = 'parameters: G ' + fmtInt(m.params.g) + ', Z ' + fmtInt(m.params.z) +
                ', D ' + fmtInt(m.params.d) + '; ' + m.levels + ' levels, base ' + m.base;
        }
        const d = s.dataset || {};
        $('dataset').textContent = fmtInt(d.count) + ' images';
        $('dataset').title = d.dir + ' (' + d.side + ' px)';
        const c = s.checkpoint;
        $('checkpoint').textContent = c ? 'step ' + fmtInt(c.step) + ' · ' + fmtAgo(c.time) : 'none yet';
        $('checkpoint').title = c ? c.path + ', ' + fmtDateTime(c.time) : '';
        const live = !S.offline && s.state !== 'stopping';
        if (!S.pausing) {
            pause.textContent = s.state === 'paused' ? 'Resume' : 'Pause';
            pause.disabled = !live;
        }
        if (!S.checkpointing) ckpt.disabled = !live;
    }

    async function togglePause() {
        if (!S.status || S.pausing) return;
        const resume = S.status.state === 'paused';
        const what = resume ? 'resume training' : 'pause training';
        const btn = $('btn-pause');
        S.pausing = true;
        btn.disabled = true;
        btn.textContent = resume ? 'Resuming…' : 'Pausing…';
        try {
            const r = await (await request('POST', resume ? '/api/resume' : '/api/pause',
                { body: {}, interactive: true, what })).json();
            S.actionEpoch++;
            S.status.state = r.state;
            S.status.step = r.step;
            toast((r.state === 'paused' ? 'Paused' : 'Training') + ' at step ' + fmtInt(r.step) + '.', 'ok');
        } catch (e) {
            toast(refusal(resume ? 'Resume' : 'Pause', e), 'error', 9000);
        } finally {
            S.pausing = false;
            renderStatus();
        }
    }

    async function checkpointNow() {
        if (!S.status || S.checkpointing) return;
        const btn = $('btn-checkpoint');
        S.checkpointing = true;
        btn.disabled = true;
        btn.textContent = 'Writing…';
        try {
            const r = await (await request('POST', '/api/checkpoint',
                { body: {}, interactive: true, what: 'write a checkpoint' })).json();
            S.status.checkpoint = { step: r.step, time: r.time, path: r.path };
            toast('Checkpoint written at step ' + fmtInt(r.step) + ' (' + fmtBytes(r.bytes) + ').', 'ok');
        } catch (e) {
            toast(refusal('Checkpoint', e), 'error', 9000);
        } finally {
            S.checkpointing = false;
            btn.textContent = 'Checkpoint now';
            renderStatus();
        }
    }

    /* Empties everything history-like after a daemon restart; the loops refill it. */
    function resetData() {
        S.generation++;
        M.n = 0; M.next = 0; M.lastStep = -1;
        for (const k of METRIC_KEYS) M.cols[k] = [];
        for (const c of charts) c.dataChanged(true);
        H.list = []; H.next = 0; H.shown = -1; H.want = -1;
        for (const u of H.cache.values()) URL.revokeObjectURL(u);
        H.cache.clear();
        renderHistory();
        E.list = []; E.next = 0;
        $('event-list').textContent = '';
        updateMarkers();
    }

    /* ---------- curves ---------- */

    const METRIC_KEYS = ['step', 'time', 'train_seconds', 'loss_d', 'loss_g', 'loss_z', 'd_real',
        'd_fake', 'images_per_second', 'lr_d', 'lr_g', 'lr_z', 'batch_size'];
    const M = { n: 0, next: 0, lastStep: -1, cols: {} };
    for (const k of METRIC_KEYS) M.cols[k] = [];
    let xKey = 'step';

    function xTick(x, step) {
        if (xKey === 'step') return x >= 10000 ? (x / 1000).toFixed(x % 1000 ? 1 : 0) + 'k' : String(Math.round(x));
        if (xKey === 'train_seconds') return fmtShortDuration(x);
        if (step >= 86400) return fmtDate(x).slice(5);
        return fmtClock(x, step < 60);
    }

    function xLabel(i) {
        const c = M.cols;
        const parts = ['step ' + fmtInt(c.step[i]), fmtShortDuration(Math.round(c.train_seconds[i])) + ' trained', fmtClock(c.time[i])];
        if (xKey === 'train_seconds') parts.unshift(parts.splice(1, 1)[0]);
        if (xKey === 'time') parts.unshift(parts.splice(2, 1)[0]);
        return parts.join(' · ');
    }

    const COLORS = { d: '#e4572e', g: '#2563eb', z: '#0d9488', real: '#16a34a', fake: '#db2777', ips: '#7c3aed' };
    const common = {
        onHover: (x) => { for (const c of charts) c.setHover(x); },
        onZoom: (r) => {
            for (const c of charts) c.setZoom(r);
            $('zoom-reset').hidden = !r;
        },
        formatX: xLabel,
        formatXTick: xTick,
        timeAxis: () => xKey !== 'step',
        integerX: () => xKey === 'step',
    };
    const charts = [
        new Chart($('chart-loss'), Object.assign({
            title: 'Losses',
            series: [{ key: 'loss_d', label: 'D', color: COLORS.d }, { key: 'loss_g', label: 'G', color: COLORS.g },
                { key: 'loss_z', label: 'Z', color: COLORS.z }],
        }, common)),
        new Chart($('chart-d'), Object.assign({
            title: 'Discriminator output',
            series: [{ key: 'd_real', label: 'D(x)', color: COLORS.real },
                { key: 'd_fake', label: 'D(G(z))', color: COLORS.fake }],
            refLines: [0.5], yMin: 0, yMax: 1,
        }, common)),
        new Chart($('chart-ips'), Object.assign({
            title: 'Images per second',
            series: [{ key: 'images_per_second', label: 'images/s', color: COLORS.ips }],
            yMin: 0,
        }, common)),
        new Chart($('chart-lr'), Object.assign({
            title: 'Learning rates',
            series: [{ key: 'lr_d', label: 'D', color: COLORS.d, smooth: false },
                { key: 'lr_g', label: 'G', color: COLORS.g, smooth: false },
                { key: 'lr_z', label: 'Z', color: COLORS.z, smooth: false }],
            yMin: 0,
        }, common)),
    ];
    for (const c of charts) c.setSource(M, xKey);

    function bindCurveControls() {
        for (const b of document.querySelectorAll('#curves .seg button')) {
            b.addEventListener('click', () => {
                xKey = b.dataset.x;
                for (const o of document.querySelectorAll('#curves .seg button')) o.classList.toggle('on', o === b);
                for (const c of charts) c.setXKey(xKey);
                $('zoom-reset').hidden = true;
                updateMarkers();
            });
        }
        const slider = $('smoothing');
        const apply = () => {
            const w = Number(slider.value);
            $('smoothing-value').textContent = w.toFixed(3);
            for (const c of charts) c.setSmoothing(w);
        };
        slider.addEventListener('input', apply);
        apply();
        $('robust').addEventListener('change', () => { for (const c of charts) c.setRobust($('robust').checked); });
        $('zoom-reset').addEventListener('click', () => common.onZoom(null));
    }

    async function pollMetrics() {
        if (!online()) return 1000;
        const gen = S.generation;
        const before = M.n;
        for (let page = 0; page < 1000; page++) {
            const r = await getJSON('/api/metrics?since=' + M.next + '&limit=10000');
            if (gen !== S.generation) return 0;
            for (const row of r.metrics) {
                if (row.step <= M.lastStep) continue;
                for (const k of METRIC_KEYS) {
                    const v = row[k];
                    M.cols[k].push(typeof v === 'number' ? v : NaN);
                }
                M.n++;
                M.lastStep = row.step;
            }
            M.next = r.next_since;
            if (!r.more) break;
            if (M.n > before) for (const c of charts) c.dataChanged(false);
        }
        if (M.n !== before) {
            for (const c of charts) c.dataChanged(false);
            updateMarkers();
            $('metrics-count').textContent = fmtInt(M.n) + ' rows loaded.';
            $('curves').dataset.rows = String(M.n);
        }
        return 2000 * hiddenFactor();
    }

    /* Events drawn on the curves: where the run was steered. */
    const MARKER_COLORS = { hparams: '#7c3aed', pause: '#d97706', resume: '#16a34a', start: '#6b7280',
        rewind: '#dc2626', reload: '#0891b2', error: '#dc2626' };

    function markerX(ev) {
        if (xKey === 'step') return ev.step;
        if (xKey === 'time') return ev.time;
        const i = window.IllganChart.lowerBound(M.cols.step, M.n, ev.step);
        return i < M.n ? M.cols.train_seconds[i] : NaN;
    }

    function updateMarkers() {
        const marks = [];
        for (const ev of E.list) {
            const color = MARKER_COLORS[ev.kind];
            if (!color) continue;
            marks.push({ x: markerX(ev), color, label: 'step ' + fmtInt(ev.step) + ': ' + (ev.message || ev.kind) });
        }
        for (const c of charts) c.setMarkers(marks);
    }

    /* ---------- images ---------- */

    /* GET an image with the token when needed; an <img src> could not send one. */
    async function fetchImage(path) {
        const res = await request('GET', path);
        const blob = await res.blob();
        return { blob, headers: res.headers };
    }

    /* Where the cells of a grid lie: the API's grids are cols*side + (cols+1)*pad wide. */
    function gridGeometry(width, height, side, n) {
        for (const pad of [2, 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]) {
            const cols = (width - pad) / (side + pad), rows = (height - pad) / (side + pad);
            if (Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0 &&
                (!n || (cols * rows >= n && cols * (rows - 1) < n))) return { pad, cols, rows, side };
        }
        return null;
    }

    function cellAt(img, ev, side, n) {
        const g = gridGeometry(img.naturalWidth, img.naturalHeight, side, n);
        if (!g) return null;
        const r = img.getBoundingClientRect();
        const x = (ev.clientX - r.left) * img.naturalWidth / r.width;
        const y = (ev.clientY - r.top) * img.naturalHeight / r.height;
        const col = Math.min(g.cols - 1, Math.max(0, Math.floor((x - g.pad / 2) / (side + g.pad))));
        const row = Math.min(g.rows - 1, Math.max(0, Math.floor((y - g.pad / 2) / (side + g.pad))));
        const index = row * g.cols + col;
        if (n && index >= n) return null;
        return { g, col, row, index };
    }

    function drawCell(canvas, source, g, col, row, size) {
        canvas.width = g.side;
        canvas.height = g.side;
        canvas.style.width = size + 'px';
        canvas.style.height = size + 'px';
        const ctx = canvas.getContext('2d');
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(source, g.pad + col * (g.side + g.pad), g.pad + row * (g.side + g.pad), g.side, g.side,
            0, 0, g.side, g.side);
    }

    /* ---------- stored sample grids ---------- */

    const H = { list: [], next: 0, n: 0, seed: null, shown: -1, want: -1, loading: false, cache: new Map(), timer: null };

    async function gridUrl(item) {
        if (H.cache.has(item.url)) {
            const u = H.cache.get(item.url);
            H.cache.delete(item.url);
            H.cache.set(item.url, u);
            return u;
        }
        const { blob } = await fetchImage(item.url);
        const u = URL.createObjectURL(blob);
        H.cache.set(item.url, u);
        const shown = H.list[H.shown] && H.list[H.shown].url;
        for (const [k, v] of H.cache) {
            if (H.cache.size <= 300) break;
            if (k === shown || k === item.url) continue;
            URL.revokeObjectURL(v);
            H.cache.delete(k);
        }
        return u;
    }

    async function pollSamples() {
        if (!online()) return 1000;
        const gen = S.generation;
        let added = 0;
        for (let page = 0; page < 100; page++) {
            const r = await getJSON('/api/samples?since=' + H.next + '&limit=1000');
            if (gen !== S.generation) return 0;
            for (const s of r.samples) {
                const last = H.list[H.list.length - 1];
                if (last && s.step <= last.step) continue;
                H.list.push(s);
                added++;
            }
            H.next = r.next_since;
            H.n = r.n;
            H.seed = r.seed;
            if (!r.more) break;
        }
        if (added) {
            const follow = $('history-follow').checked || H.shown < 0;
            renderHistory();
            if (follow) showHistory(H.list.length - 1);
        }
        return 3000 * hiddenFactor();
    }

    function renderHistory() {
        const s = $('history-slider');
        s.max = String(Math.max(0, H.list.length - 1));
        s.disabled = H.list.length < 2;
        $('history-play').disabled = H.list.length < 2;
        if (!H.list.length) {
            $('history-img').hidden = true;
            $('history-empty').hidden = false;
            $('history-caption').textContent = '';
        }
        renderHistoryCaption();
    }

    function renderHistoryCaption() {
        const item = H.list[H.want];
        if (!item) return;
        $('history-caption').textContent = 'step ' + fmtInt(item.step) + ' · ' + fmtClock(item.time) +
            ' (' + fmtAgo(item.time) + ') · grid ' + (H.want + 1) + ' of ' + H.list.length;
    }

    function showHistory(i) {
        if (i < 0 || i >= H.list.length) return;
        H.want = i;
        $('history-slider').value = String(i);
        $('history-follow').checked = i === H.list.length - 1;
        renderHistoryCaption();
        if (!H.loading) loadWantedGrid();
    }

    async function loadWantedGrid() {
        H.loading = true;
        const gen = S.generation;
        try {
            while (H.want !== H.shown && H.list[H.want]) {
                const i = H.want;
                const url = await gridUrl(H.list[i]);
                if (gen !== S.generation) return;
                const img = $('history-img');
                await new Promise((resolve) => {
                    img.onload = resolve;
                    img.onerror = resolve;
                    img.src = url;
                });
                img.dataset.step = String(H.list[i].step);
                img.hidden = false;
                $('history-empty').hidden = true;
                H.shown = i;
            }
        } catch (e) {
            $('history-caption').textContent = e.status === 404 ? 'that grid is no longer stored' :
                'could not load the grid: ' + e.message;
            H.shown = H.want;
        } finally {
            H.loading = false;
        }
    }

    function togglePlay() {
        const btn = $('history-play');
        if (H.timer) {
            clearInterval(H.timer);
            H.timer = null;
            btn.textContent = 'Play';
            return;
        }
        if (H.want >= H.list.length - 1) showHistory(0);
        btn.textContent = 'Stop';
        H.timer = setInterval(() => {
            if (H.loading) return;  /* wait for the frame, so every grid is seen */
            if (H.want >= H.list.length - 1) { togglePlay(); return; }
            showHistory(H.want + 1);
        }, 150);
    }

    function bindHistory() {
        $('history-slider').addEventListener('input', () => showHistory(Number($('history-slider').value)));
        $('history-follow').addEventListener('change', () => {
            if ($('history-follow').checked) showHistory(H.list.length - 1);
        });
        $('history-play').addEventListener('click', togglePlay);
        $('history-img').addEventListener('click', (ev) => {
            const img = ev.currentTarget;
            const side = S.status && S.status.model && S.status.model.side;
            openFace(img, side ? cellAt(img, ev, side, H.n) : null,
                'stored grid, step ' + fmtInt(H.list[H.shown] ? H.list[H.shown].step : NaN), true);
        });
    }

    /* ---------- lightbox ---------- */

    function openFace(img, cell, what, withHistory) {
        const canvas = $('lightbox-canvas');
        const big = Math.min(384, Math.floor(window.innerWidth * 0.8));
        const strip = $('lightbox-strip');
        strip.textContent = '';
        if (cell) {
            drawCell(canvas, img, cell.g, cell.col, cell.row, big);
            $('lightbox-caption').textContent = 'Image ' + (cell.index + 1) + ' of the ' + what + '.';
        } else {
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            const scale = Math.min(big * 1.5 / img.naturalWidth, 8);
            canvas.style.width = Math.round(img.naturalWidth * scale) + 'px';
            canvas.style.height = Math.round(img.naturalHeight * scale) + 'px';
            const ctx = canvas.getContext('2d');
            ctx.imageSmoothingEnabled = false;
            ctx.drawImage(img, 0, 0);
            $('lightbox-caption').textContent = 'The ' + what + '.';
        }
        $('lightbox').showModal();
        if (cell && withHistory && H.list.length > 1) faceHistory(cell, big);
    }

    /* The same face across up to 12 stored grids, evenly spaced over the run. */
    async function faceHistory(cell, big) {
        const strip = $('lightbox-strip');
        const count = Math.min(12, H.list.length);
        const picks = [];
        for (let j = 0; j < count; j++) picks.push(Math.round(j * (H.list.length - 1) / (count - 1)));
        strip.append(el('p', { class: 'hint', text: 'The same face through training:' }));
        for (const i of picks) {
            const item = H.list[i];
            const c = el('canvas', { class: 'pixel' });
            const fig = el('figure', {}, c, el('figcaption', { text: fmtInt(item.step) }));
            strip.append(fig);
            try {
                const url = await gridUrl(item);
                const im = new Image();
                im.src = url;
                await im.decode();
                if (!$('lightbox').open) return;
                drawCell(c, im, cell.g, cell.col, cell.row, 56);
                fig.addEventListener('click', () => {
                    drawCell($('lightbox-canvas'), im, cell.g, cell.col, cell.row, big);
                    $('lightbox-caption').textContent = 'Image ' + (cell.index + 1) + ' of the stored grid, step ' + fmtInt(item.step) + '.';
                });
            } catch (_) {
                fig.remove();
            }
        }
    }

    /* ---------- new samples ---------- */

    const fieldErrorIds = { generate: { seed: 'gen-seed', n: 'gen-n' }, neighbors: { n: 'nn-n', k: 'nn-k', seed: 'nn-seed' } };

    function clearErrors(root) {
        for (const e of root.querySelectorAll('.field-error')) e.textContent = '';
        for (const e of root.querySelectorAll('.invalid')) e.classList.remove('invalid');
    }

    function showFieldError(id, message) {
        const slot = document.querySelector('[data-error-for="' + id + '"]');
        if (slot) slot.textContent = message;
        const input = $(id);
        if (input) { input.classList.add('invalid'); input.setAttribute('aria-invalid', 'true'); }
        return !!slot;
    }

    async function generate(ev) {
        ev.preventDefault();
        const form = $('generate-form');
        clearErrors(form);
        const btn = $('gen-btn');
        const seed = $('gen-seed').value.trim();
        const n = $('gen-n').value;
        btn.disabled = true;
        btn.textContent = 'Drawing…';
        try {
            let res;
            for (let tries = 0; ; tries++) {
                try {
                    res = await fetchImage('/sample?n=' + encodeURIComponent(n) + (seed ? '&seed=' + encodeURIComponent(seed) : ''));
                    break;
                } catch (e) {
                    if (e.status !== 429 || tries >= 2) throw e;
                    await new Promise((r) => setTimeout(r, (e.retryAfter || 1) * 1000));
                }
            }
            const img = $('gen-img');
            const old = img.src;
            img.src = URL.createObjectURL(res.blob);
            if (old.startsWith('blob:')) URL.revokeObjectURL(old);
            img.dataset.side = res.headers.get('X-Illgan-Side') || '';
            img.dataset.n = n;
            const usedSeed = res.headers.get('X-Illgan-Seed');
            const step = res.headers.get('X-Illgan-Step');
            img.dataset.seed = usedSeed || '';
            $('gen-caption').textContent = n + ' new images from the weights of step ' + fmtInt(Number(step)) +
                ', seed ' + usedSeed + (seed ? '.' : ' (enter it as the seed to draw the same faces again).');
            $('gen-figure').hidden = false;
        } catch (e) {
            const id = e.field && fieldErrorIds.generate[e.field];
            if (!(id && e.status === 400 && showFieldError(id, e.message))) showFieldError('gen-seed', refusal('Drawing samples', e));
        } finally {
            btn.disabled = false;
            btn.textContent = 'New samples';
        }
    }

    function bindGenerate() {
        $('generate-form').addEventListener('submit', generate);
        $('gen-img').addEventListener('click', (ev) => {
            const img = ev.currentTarget;
            const side = Number(img.dataset.side);
            openFace(img, side ? cellAt(img, ev, side, Number(img.dataset.n)) : null,
                'new samples (seed ' + img.dataset.seed + ')', false);
        });
    }

    /* ---------- nearest training images ---------- */

    async function neighbors(ev) {
        ev.preventDefault();
        const form = $('nn-form');
        clearErrors(form);
        clearErrors($('overfit'));
        const btn = $('nn-btn');
        const n = $('nn-n').value.trim(), k = $('nn-k').value.trim(), seed = $('nn-seed').value.trim();
        const base = 'n=' + encodeURIComponent(n) + '&k=' + encodeURIComponent(k);
        btn.disabled = true;
        btn.textContent = 'Searching…';
        try {
            /* The JSON names the seed; the picture is then drawn from the same z. The weights
             * may move between the two requests, so ask again until both name one step. */
            let j = await getJSON('/api/neighbors?' + base + (seed ? '&seed=' + encodeURIComponent(seed) : ''));
            let pic = await fetchImage('/neighbors.png?' + base + '&seed=' + j.seed + '&pad=2');
            for (let tries = 0; tries < 3 && Number(pic.headers.get('X-Illgan-Step')) !== j.step; tries++) {
                if (tries % 2 === 0) j = await getJSON('/api/neighbors?' + base + '&seed=' + j.seed);
                else pic = await fetchImage('/neighbors.png?' + base + '&seed=' + j.seed + '&pad=2');
            }
            await renderNeighbors(j, pic);
        } catch (e) {
            const id = e.field && fieldErrorIds.neighbors[e.field];
            if (!(id && e.status === 400 && showFieldError(id, e.message))) {
                $('nn-summary').textContent = refusal('The search', e);
            }
        } finally {
            btn.disabled = false;
            btn.textContent = 'Find nearest';
        }
    }

    async function renderNeighbors(j, pic) {
        const side = Number(pic.headers.get('X-Illgan-Side'));
        const picStep = Number(pic.headers.get('X-Illgan-Step'));
        const bitmap = await createImageBitmap(pic.blob);
        const g = gridGeometry(bitmap.width, bitmap.height, side, 0);
        const out = $('nn-results');
        out.textContent = '';
        if (!g) { $('nn-summary').textContent = 'The picture from the daemon has an unexpected layout.'; return; }
        let best = null;
        for (const r of j.results) for (const nb of r.neighbors) if (!best || nb.mse < best.nb.mse) best = { r, nb };
        const size = window.innerWidth < 600 ? 48 : 64;
        j.results.forEach((r, col) => {
            const row = el('div', { class: 'nn-row', 'data-sample': String(r.sample) });
            const gen = el('canvas', { class: 'pixel' });
            drawCell(gen, bitmap, g, col, 0, size);
            row.append(el('figure', { class: 'nn-gen' }, gen, el('figcaption', { text: 'generated', title: 'generated image ' + (r.sample + 1) })));
            row.append(el('span', { class: 'nn-arrow', text: '→', 'aria-hidden': 'true' }));
            r.neighbors.forEach((nb, i) => {
                const c = el('canvas', { class: 'pixel' });
                drawCell(c, bitmap, g, col, i + 1, size);
                const fig = el('figure', { class: 'nn-cell' + (best && nb === best.nb ? ' closest' : ''), title: nb.name + ' (index ' + nb.index + '), MSE ' + nb.mse },
                    c, el('figcaption', {}, el('span', { class: 'mse', text: nb.mse.toFixed(4) }), el('small', { text: nb.name })));
                row.append(fig);
            });
            out.append(row);
        });
        $('nn-summary').textContent = 'Step ' + fmtInt(j.step) + (picStep !== j.step ? ' (picture from step ' + fmtInt(picStep) + ')' : '') +
            ' · seed ' + j.seed + ' · ' + j.n + ' generated × ' + j.k + ' nearest of ' + fmtInt(j.dataset_count) +
            ' training images.' + (best ? ' Smallest distance: MSE ' + best.nb.mse.toFixed(4) + ' (generated #' +
            (best.r.sample + 1) + ' and ' + best.nb.name + ').' : '');
        bitmap.close();
    }

    /* ---------- hyperparameters ---------- */

    const HP_HELP = {
        lr_d: 'Adam learning rate of D', lr_g: 'Adam learning rate of G', lr_z: 'Adam learning rate of Z',
        beta1: 'Adam β1, all optimizers', beta2: 'Adam β2, all optimizers',
        d_steps: 'D updates per iteration', g_steps: 'G updates per iteration',
        zpred: 'train the z-predictor', dropout_keep: 'D dropout keep probability',
        flip_prob: 'chance of mirroring a training image', batch_size: 'images per batch',
        metrics_every: 'store a metrics row every N iterations',
        sample_every: 'store a sample grid every N iterations (0: never)',
        checkpoint_every: 'checkpoint every N iterations (0: on request only)',
    };
    const HP = { values: null, schema: null, keys: [], lastChange: {}, loading: false };

    function rangeText(sc) {
        if (!sc || sc.type === 'boolean') return 'true or false';
        const lo = sc.min === undefined ? '' : sc.min + (sc.exclusive_min ? ' < ' : ' ≤ ');
        const hi = sc.max === undefined ? '' : (sc.exclusive_max ? ' < ' : ' ≤ ') + sc.max;
        return (sc.type === 'integer' ? 'integer ' : '') + lo + 'x' + hi;
    }

    async function loadHparams() {
        if (HP.loading) return;
        HP.loading = true;
        let r;
        try { r = await getJSON('/api/hparams'); } finally { HP.loading = false; }
        HP.values = r.hparams;
        HP.schema = r.schema || {};
        $('hp-step').textContent = 'as of step ' + fmtInt(r.step);
        renderHparams();
    }

    function hpInput(key) { return $('hp-' + key); }

    function renderHparams() {
        const keys = Object.keys(HP.values);
        const box = $('hp-rows');
        if (keys.join() !== HP.keys.join()) {
            HP.keys = keys;
            box.textContent = '';
            for (const key of keys) {
                const sc = HP.schema[key] || {};
                let input;
                if (sc.type === 'boolean' || typeof HP.values[key] === 'boolean') {
                    input = el('input', { type: 'checkbox', id: 'hp-' + key, name: key });
                } else {
                    input = el('input', { type: 'text', id: 'hp-' + key, name: key, autocomplete: 'off', spellcheck: false,
                        inputMode: sc.type === 'integer' ? 'numeric' : 'decimal' });
                }
                input.addEventListener('input', () => markDirty(key));
                input.addEventListener('change', () => markDirty(key));
                box.append(el('div', { class: 'hp-row', 'data-key': key },
                    el('label', { htmlFor: 'hp-' + key }, el('code', { text: key }), el('small', { text: sc.description || HP_HELP[key] || '' })),
                    el('div', { class: 'hp-field' }, input, el('span', { class: 'hp-range', text: rangeText(sc) })),
                    el('div', { class: 'hp-now', id: 'hp-now-' + key }),
                    el('div', { class: 'field-error', 'data-error-for': 'hp-' + key })));
            }
        }
        for (const key of keys) {
            const input = hpInput(key);
            if (!input.classList.contains('dirty')) setInput(input, HP.values[key]);
            renderHpNow(key);
        }
    }

    function setInput(input, v) {
        if (input.type === 'checkbox') input.checked = !!v; else input.value = fmtNum(v);
    }

    function renderHpNow(key) {
        const c = HP.lastChange[key];
        const now = $('hp-now-' + key);
        now.textContent = 'now ' + fmtNum(HP.values[key]) +
            (c ? ' · set at step ' + fmtInt(c.step) + ' (was ' + fmtNum(c.old) + ')' : '');
        now.dataset.changedAt = c ? String(c.step) : '';
    }

    /* What an input holds, as the JSON value to send. Text that is not a number is sent as
     * the text, so the daemon's own check (not a guess here) names what is wrong with it. */
    function inputValue(key) {
        const input = hpInput(key);
        if (input.type === 'checkbox') return input.checked;
        const t = input.value.trim();
        const num = Number(t);
        return t !== '' && Number.isFinite(num) ? num : t;
    }

    function markDirty(key) {
        const input = hpInput(key);
        const dirty = inputValue(key) !== HP.values[key];
        input.classList.toggle('dirty', dirty);
        const row = input.closest('.hp-row');
        row.classList.toggle('dirty', dirty);
        const slot = document.querySelector('[data-error-for="hp-' + key + '"]');
        if (slot) slot.textContent = '';
        input.classList.remove('invalid');
    }

    async function applyHparams(ev) {
        ev.preventDefault();
        if (!HP.values) return;
        const form = $('hp-form');
        clearErrors(form);
        const patch = {};
        for (const key of HP.keys) {
            const v = inputValue(key);
            if (v !== HP.values[key]) patch[key] = v;
        }
        const result = $('hp-result');
        if (!Object.keys(patch).length) { result.textContent = 'Nothing to apply: no value was edited.'; return; }
        const btn = $('hp-apply');
        btn.disabled = true;
        result.textContent = 'Sending…';
        try {
            const r = await (await request('PATCH', '/api/hparams',
                { body: patch, interactive: true, what: 'change hyperparameters' })).json();
            HP.values = r.hparams;
            const changed = Object.entries(r.changed || {});
            for (const [key, c] of changed) HP.lastChange[key] = { step: r.effective_step, old: c.old, new: c.new };
            for (const key of HP.keys) { hpInput(key).classList.remove('dirty'); hpInput(key).closest('.hp-row').classList.remove('dirty'); }
            renderHparams();
            result.dataset.effectiveStep = String(r.effective_step);
            result.textContent = changed.length ?
                'Applied from step ' + fmtInt(r.effective_step) + ': ' +
                changed.map(([k, c]) => k + ' ' + fmtNum(c.old) + ' → ' + fmtNum(c.new)).join(', ') + '.' :
                'No change: those values were already set.';
            $('hp-step').textContent = 'as of step ' + fmtInt(r.effective_step);
        } catch (e) {
            result.textContent = '';
            if (e.status === 400 && e.field && hpInput(e.field)) {
                showFieldError('hp-' + e.field, e.message);
                hpInput(e.field).focus();
                result.textContent = 'Nothing was changed.';
            } else {
                showFieldError('hp-form', refusal('The change', e) + ' Nothing was changed.');
            }
        } finally {
            btn.disabled = false;
        }
    }

    function bindHparams() {
        $('hp-form').addEventListener('submit', applyHparams);
        $('hp-revert').addEventListener('click', () => {
            clearErrors($('hp-form'));
            for (const key of HP.keys) {
                const input = hpInput(key);
                input.classList.remove('dirty');
                input.closest('.hp-row').classList.remove('dirty');
                setInput(input, HP.values[key]);
            }
            $('hp-result').textContent = '';
        });
    }

    /* ---------- events ---------- */

    const E = { list: [], next: 0 };

    function eventItem(ev) {
        const when = el('time', { text: fmtClock(ev.time), title: fmtDateTime(ev.time) });
        when.dateTime = new Date(ev.time * 1000).toISOString();
        return el('li', { class: 'ev ev-' + ev.kind, 'data-kind': ev.kind, 'data-id': String(ev.id) },
            el('span', { class: 'badge', text: ev.kind.replace('_', ' ') }),
            el('span', { class: 'msg', text: ev.message || ev.kind }),
            el('span', { class: 'meta' }, 'step ' + fmtInt(ev.step) + ' · ', when));
    }

    async function pollEvents() {
        if (!online()) return 1000;
        const gen = S.generation;
        const fresh = [];
        for (let page = 0; page < 100; page++) {
            const r = await getJSON('/api/events?since_id=' + E.next + '&limit=1000');
            if (gen !== S.generation) return 0;
            for (const ev of r.events) if (ev.id > E.next) fresh.push(ev);
            E.next = r.next_since_id;
            if (!r.more) break;
        }
        if (fresh.length) {
            const initial = E.list.length === 0;
            E.list.push(...fresh);
            const list = $('event-list');
            const frag = document.createDocumentFragment();
            for (let i = fresh.length - 1; i >= 0; i--) frag.append(eventItem(fresh[i]));
            list.prepend(frag);
            while (list.children.length > 500) list.lastChild.remove();
            $('events-count').textContent = fmtInt(E.list.length) + ' events';
            let hpTouched = false;
            for (const ev of fresh) {
                if (ev.kind === 'hparams' && ev.data && ev.data.key) {
                    const prev = HP.lastChange[ev.data.key];
                    if (!prev || prev.step <= ev.step) HP.lastChange[ev.data.key] = { step: ev.step, old: ev.data.old, new: ev.data.new };
                    hpTouched = true;
                }
                if (ev.kind === 'reload') hpTouched = true;
            }
            if (hpTouched && HP.values) {
                if (initial) renderHparams(); else loadHparams().catch(() => {});
            }
            updateMarkers();
        }
        return 2000 * hiddenFactor();
    }

    /* ---------- start ---------- */

    /* Runs fn forever; fn returns the delay before its next run. An error means "try again
     * soon": the status loop is the one that decides whether the daemon is reachable. */
    function loop(fn) {
        const run = async () => {
            let next;
            try { next = await fn(); } catch (_) { next = 3000; }
            setTimeout(run, next);
        };
        run();
    }

    function start() {
        bindTokenDialog();
        bindCurveControls();
        bindHistory();
        bindGenerate();
        bindHparams();
        $('nn-form').addEventListener('submit', neighbors);
        $('btn-pause').addEventListener('click', togglePause);
        $('btn-checkpoint').addEventListener('click', checkpointNow);
        $('lightbox-close').addEventListener('click', () => $('lightbox').close());
        $('lightbox').addEventListener('click', (ev) => { if (ev.target === $('lightbox')) $('lightbox').close(); });
        renderTokenButton();
        loop(pollStatus);
        loop(pollMetrics);
        loop(pollSamples);
        loop(pollEvents);
    }

    start();
})();
