/* chart.js: the dashboard's line chart, a small hand-written canvas component.
 *
 * One chart draws several series that share an x column of a columnar store
 * ({n, cols: {name: [numbers]}}), so the dashboard keeps every metrics row once and each chart
 * only reads it. Guarantees:
 * - Smoothing is TensorBoard's debiased exponential moving average, computed incrementally as
 *   rows arrive (the whole series again only when the weight changes); the raw line stays
 *   faint underneath. Gaps (null/NaN) break the line and do not enter the average.
 * - Drawing cost depends on the chart's width, not the number of rows: each pixel column is
 *   reduced to its first, lowest, highest and last value, which keeps every spike visible.
 * - Hover, zoom and markers are drawn on a second canvas, so moving the pointer never
 *   redraws the lines. The x column must be non-decreasing (steps, times).
 * No globals besides window.IllganChart; nothing here talks to the network. */
'use strict';
(function (global) {
    const MARGIN = { left: 52, right: 10, top: 10, bottom: 24 };

    function cssVar(name, fallback) {
        const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
        return v || fallback;
    }

    function finite(v) {
        return typeof v === 'number' && Number.isFinite(v);
    }

    /* First index i in [0, n) with xs[i] >= x (n when none). */
    function lowerBound(xs, n, x) {
        let lo = 0, hi = n;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (xs[mid] < x) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    function nearestIndex(xs, n, x) {
        if (n === 0) return -1;
        const i = lowerBound(xs, n, x);
        if (i <= 0) return 0;
        if (i >= n) return n - 1;
        return (x - xs[i - 1] <= xs[i] - x) ? i - 1 : i;
    }

    /* TensorBoard's smoothing, continued from `st` over ys[from..n). */
    function smoothInto(ys, n, from, w, out, st) {
        for (let i = from; i < n; i++) {
            const y = ys[i];
            if (!finite(y)) { out[i] = NaN; continue; }
            st.last = st.last * w + (1 - w) * y;
            st.wpow *= w;
            const debias = w === 1 ? 1 : 1 - st.wpow;
            out[i] = st.last / debias;
        }
        out.length = n;
    }

    function niceStep(span, target) {
        const raw = span / Math.max(1, target);
        const mag = Math.pow(10, Math.floor(Math.log10(raw)));
        const f = raw / mag;
        return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    }

    const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
        21600, 43200, 86400, 172800, 604800];
    function niceTimeStep(span, target) {
        const raw = span / Math.max(1, target);
        for (const s of TIME_STEPS) if (s >= raw) return s;
        return niceStep(span, target);
    }

    /* A tick label with just enough digits to tell neighbouring ticks `step` apart. */
    function formatY(v, step) {
        if (v === 0) return '0';
        const a = Math.abs(v);
        const stepExp = Math.floor(Math.log10(step) + 1e-9);
        if (a < 1e-3 || a >= 1e5) {
            const digits = Math.max(0, Math.min(6, Math.floor(Math.log10(a) + 1e-9) - stepExp));
            return v.toExponential(digits);
        }
        return v.toFixed(Math.max(0, Math.min(6, -stepExp)));
    }

    function formatValue(v) {
        if (!finite(v)) return '–';
        const a = Math.abs(v);
        if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
        let s = v.toPrecision(4);
        if (s.includes('.') && !s.includes('e')) s = s.replace(/0+$/, '').replace(/\.$/, '');
        return s;
    }

    /* opts: title, series [{key, label, color, smooth?}], refLines [y], yMin/yMax (fixed bounds
     * that the data may still extend), onHover(x|null), onZoom([a,b]|null), formatX(x),
     * formatXTick(x, step), timeAxis (bool: nice steps in seconds). */
    function Chart(el, opts) {
        this.el = el;
        this.opts = opts;
        this.store = null;
        this.xKey = 'step';
        this.weight = 0;
        this.robust = true;
        this.zoom = null;
        this.hoverX = null;
        this.markers = [];
        this.done = 0;  /* rows smoothed so far */
        this.series = opts.series.map((s) => ({
            key: s.key, label: s.label, color: s.color, smooth: s.smooth !== false,
            visible: true, sm: [], st: { last: 0, wpow: 1 }, legendValue: null, legendRaw: null,
        }));
        this.build();
    }

    Chart.prototype.build = function () {
        const el = this.el;
        el.classList.add('chart');
        el.innerHTML = '';
        const head = document.createElement('div');
        head.className = 'chart-head';
        const title = document.createElement('h3');
        title.textContent = this.opts.title;
        head.appendChild(title);
        this.legend = document.createElement('div');
        this.legend.className = 'legend';
        for (const s of this.series) {
            const b = document.createElement('button');
            b.type = 'button';
            b.className = 'lg';
            b.title = 'show or hide ' + s.label;
            const sw = document.createElement('i');
            sw.style.background = s.color;
            const name = document.createElement('span');
            name.textContent = s.label;
            const val = document.createElement('b');
            const raw = document.createElement('small');
            b.append(sw, name, val, raw);
            b.addEventListener('click', () => {
                s.visible = !s.visible;
                b.classList.toggle('off', !s.visible);
                this.draw();
            });
            s.legendValue = val;
            s.legendRaw = raw;
            this.legend.appendChild(b);
        }
        head.appendChild(this.legend);
        el.appendChild(head);

        const plot = document.createElement('div');
        plot.className = 'plot';
        this.base = document.createElement('canvas');
        this.over = document.createElement('canvas');
        this.over.className = 'over';
        plot.append(this.base, this.over);
        el.appendChild(plot);
        this.plot = plot;
        this.note = document.createElement('div');
        this.note.className = 'chart-note';
        el.appendChild(this.note);

        const ro = new ResizeObserver(() => this.draw());
        ro.observe(plot);
        this.bindPointer();
    };

    Chart.prototype.bindPointer = function () {
        const over = this.over;
        let drag = null;
        const xAt = (ev) => {
            const r = over.getBoundingClientRect();
            return ev.clientX - r.left;
        };
        over.addEventListener('pointermove', (ev) => {
            const px = xAt(ev);
            if (drag) drag.px1 = px;
            if (this.opts.onHover) this.opts.onHover(this.pxToX(px));
        });
        over.addEventListener('pointerleave', () => {
            if (!drag && this.opts.onHover) this.opts.onHover(null);
        });
        over.addEventListener('pointerdown', (ev) => {
            if (ev.pointerType !== 'mouse' || ev.button !== 0) return;
            drag = { px0: xAt(ev), px1: xAt(ev) };
            this.drag = drag;
            over.setPointerCapture(ev.pointerId);
        });
        over.addEventListener('pointerup', (ev) => {
            if (!drag) return;
            const a = Math.min(drag.px0, drag.px1), b = Math.max(drag.px0, drag.px1);
            drag = null;
            this.drag = null;
            over.releasePointerCapture(ev.pointerId);
            if (b - a > 6 && this.opts.onZoom) this.opts.onZoom([this.pxToX(a), this.pxToX(b)]);
            else this.drawOverlay();
        });
        over.addEventListener('dblclick', () => { if (this.opts.onZoom) this.opts.onZoom(null); });
    };

    Chart.prototype.setSource = function (store, xKey) {
        this.store = store;
        this.xKey = xKey;
        this.resetSmoothing();
    };

    Chart.prototype.setXKey = function (xKey) {
        this.xKey = xKey;
        this.zoom = null;
        this.draw();
    };

    Chart.prototype.resetSmoothing = function () {
        this.done = 0;
        for (const s of this.series) { s.sm = []; s.st = { last: 0, wpow: 1 }; }
    };

    /* New rows were appended to the store (or, with reset, it was emptied and refilled). */
    Chart.prototype.dataChanged = function (reset) {
        if (reset) this.resetSmoothing();
        this.extendSmoothing();
        this.draw();
    };

    Chart.prototype.extendSmoothing = function () {
        const n = this.store ? this.store.n : 0;
        if (this.weight > 0) {
            for (const s of this.series)
                if (s.smooth) smoothInto(this.store.cols[s.key], n, this.done, this.weight, s.sm, s.st);
        }
        this.done = n;
    };

    Chart.prototype.setSmoothing = function (w) {
        if (w === this.weight) return;
        this.weight = w;
        this.resetSmoothing();
        this.extendSmoothing();
        this.draw();
    };

    Chart.prototype.setRobust = function (on) { this.robust = on; this.draw(); };
    Chart.prototype.setZoom = function (range) { this.zoom = range; this.draw(); };
    Chart.prototype.setMarkers = function (markers) { this.markers = markers; this.draw(); };
    Chart.prototype.setHover = function (x) { this.hoverX = x; this.drawOverlay(); };

    Chart.prototype.pxToX = function (px) {
        const g = this.geom;
        if (!g) return null;
        return g.x0 + (px - g.left) / g.w * (g.x1 - g.x0);
    };

    Chart.prototype.sizeCanvas = function (c) {
        const dpr = global.devicePixelRatio || 1;
        const w = this.plot.clientWidth, h = this.plot.clientHeight;
        if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
            c.width = Math.round(w * dpr);
            c.height = Math.round(h * dpr);
        }
        const ctx = c.getContext('2d');
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        return { ctx, w, h };
    };

    Chart.prototype.visibleRange = function () {
        const xs = this.store.cols[this.xKey], n = this.store.n;
        let x0 = xs[0], x1 = xs[n - 1];
        if (this.zoom) { x0 = this.zoom[0]; x1 = this.zoom[1]; }
        if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
        const i0 = Math.max(0, lowerBound(xs, n, x0) - 1);
        const i1 = Math.min(n - 1, lowerBound(xs, n, x1));
        return { x0, x1, i0, i1 };
    };

    Chart.prototype.yRange = function (i0, i1) {
        let lo = Infinity, hi = -Infinity;
        const sample = [];
        const stride = Math.max(1, Math.floor((i1 - i0 + 1) * this.series.length / 4000));
        for (const s of this.series) {
            if (!s.visible) continue;
            const ys = this.store.cols[s.key];
            const smoothed = this.weight > 0 && s.smooth;
            for (let i = i0; i <= i1; i++) {
                const y = ys[i];
                if (!finite(y)) continue;
                if (!this.robust || !smoothed) { if (y < lo) lo = y; if (y > hi) hi = y; }
                else if ((i - i0) % stride === 0) sample.push(y);
                if (smoothed) {
                    const v = s.sm[i];
                    if (finite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
                }
            }
        }
        if (sample.length) {
            /* Ignore the raw line's extreme 1% on each side: early GAN spikes would otherwise
             * flatten everything that follows. The smoothed line is always fully in view. */
            sample.sort((a, b) => a - b);
            const q = (p) => sample[Math.min(sample.length - 1, Math.floor(p * (sample.length - 1)))];
            lo = Math.min(lo, q(0.01));
            hi = Math.max(hi, q(0.99));
        }
        const o = this.opts;
        if (finite(o.yMin)) lo = Math.min(lo, o.yMin);
        if (finite(o.yMax)) hi = Math.max(hi, o.yMax);
        if (!finite(lo) || !finite(hi)) return null;
        if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
            const d = Math.abs(hi) * 0.1 || 1;
            lo -= d; hi += d;
        } else {
            const pad = (hi - lo) * 0.06;
            if (!(finite(o.yMin) && lo === o.yMin)) lo -= pad;
            if (!(finite(o.yMax) && hi === o.yMax)) hi += pad;
        }
        return { lo, hi };
    };

    /* Strokes ys over [i0, i1], reducing each pixel column to first/min/max/last. */
    function strokeDecimated(ctx, xs, ys, i0, i1, sx, sy) {
        ctx.beginPath();
        let pen = false, col = null, cnt = 0, fy = 0, mn = 0, mx = 0, ly = 0, lx = 0;
        const flush = () => {
            if (col === null) return;
            if (cnt === 1) {
                if (pen) ctx.lineTo(lx, sy(fy)); else ctx.moveTo(lx, sy(fy));
            } else {
                if (pen) ctx.lineTo(col, sy(fy)); else ctx.moveTo(col, sy(fy));
                ctx.lineTo(col, sy(mn));
                ctx.lineTo(col, sy(mx));
                ctx.lineTo(col, sy(ly));
            }
            pen = true;
            col = null;
        };
        for (let i = i0; i <= i1; i++) {
            const y = ys[i];
            if (!finite(y)) { flush(); pen = false; continue; }
            const px = sx(xs[i]);
            const c = Math.round(px);
            if (c !== col) {
                flush();
                col = c; cnt = 1; fy = mn = mx = ly = y; lx = px;
            } else {
                cnt++;
                if (y < mn) mn = y;
                if (y > mx) mx = y;
                ly = y;
            }
        }
        flush();
        ctx.stroke();
    }

    Chart.prototype.draw = function () {
        if (this.pending) return;
        this.pending = true;
        requestAnimationFrame(() => { this.pending = false; this.drawNow(); });
    };

    Chart.prototype.drawNow = function () {
        const { ctx, w, h } = this.sizeCanvas(this.base);
        ctx.clearRect(0, 0, w, h);
        const text = cssVar('--text-dim', '#667');
        const grid = cssVar('--grid', '#e5e7eb');
        ctx.font = '11px system-ui, sans-serif';
        const n = this.store ? this.store.n : 0;
        this.geom = null;
        this.el.classList.toggle('zoomed', !!this.zoom);
        this.el.dataset.points = String(n);
        if (n === 0 || w < 40) {
            ctx.fillStyle = text;
            ctx.textAlign = 'center';
            ctx.fillText(this.opts.empty || 'waiting for the first metrics…', w / 2, h / 2);
            this.updateLegend(-1);
            this.drawOverlay();
            return;
        }
        const xs = this.store.cols[this.xKey];
        const { x0, x1, i0, i1 } = this.visibleRange();
        const yr = this.yRange(i0, i1) || { lo: 0, hi: 1 };
        const left = MARGIN.left, top = MARGIN.top;
        const pw = Math.max(10, w - MARGIN.left - MARGIN.right);
        const ph = Math.max(10, h - MARGIN.top - MARGIN.bottom);
        const sx = (x) => left + (x - x0) / (x1 - x0) * pw;
        const sy = (y) => top + (1 - (y - yr.lo) / (yr.hi - yr.lo)) * ph;
        this.geom = { left, top, w: pw, h: ph, x0, x1, lo: yr.lo, hi: yr.hi, sx, sy };

        /* grid and axes */
        ctx.strokeStyle = grid;
        ctx.lineWidth = 1;
        ctx.fillStyle = text;
        const ys = niceStep(yr.hi - yr.lo, Math.max(2, Math.floor(ph / 40)));
        ctx.textAlign = 'right';
        ctx.textBaseline = 'middle';
        ctx.beginPath();
        for (let y = Math.ceil(yr.lo / ys) * ys; y <= yr.hi + ys * 1e-9; y += ys) {
            const py = Math.round(sy(y)) + 0.5;
            ctx.moveTo(left, py);
            ctx.lineTo(left + pw, py);
            ctx.fillText(formatY(Math.abs(y) < ys * 1e-9 ? 0 : y, ys), left - 6, py);
        }
        ctx.stroke();
        const target = Math.max(2, Math.floor(pw / 90));
        const xstep = this.opts.timeAxis && this.opts.timeAxis() ?
            niceTimeStep(x1 - x0, target) : Math.max(this.opts.integerX && this.opts.integerX() ? 1 : 0, niceStep(x1 - x0, target));
        ctx.textAlign = 'center';
        ctx.textBaseline = 'top';
        ctx.beginPath();
        for (let x = Math.ceil(x0 / xstep) * xstep; x <= x1; x += xstep) {
            const px = Math.round(sx(x)) + 0.5;
            ctx.moveTo(px, top);
            ctx.lineTo(px, top + ph);
            const label = this.opts.formatXTick ? this.opts.formatXTick(x, xstep) : String(x);
            ctx.fillText(label, Math.min(Math.max(px, left + 14), left + pw - 14), top + ph + 6);
        }
        ctx.stroke();

        ctx.save();
        ctx.beginPath();
        ctx.rect(left, top, pw, ph);
        ctx.clip();

        for (const r of this.opts.refLines || []) {
            if (r < yr.lo || r > yr.hi) continue;
            ctx.strokeStyle = text;
            ctx.globalAlpha = 0.5;
            ctx.setLineDash([4, 4]);
            ctx.beginPath();
            ctx.moveTo(left, Math.round(sy(r)) + 0.5);
            ctx.lineTo(left + pw, Math.round(sy(r)) + 0.5);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.globalAlpha = 1;
        }
        for (const m of this.markers) {
            if (!finite(m.x) || m.x < x0 || m.x > x1) continue;
            const px = Math.round(sx(m.x)) + 0.5;
            ctx.strokeStyle = m.color;
            ctx.globalAlpha = 0.7;
            ctx.setLineDash([2, 3]);
            ctx.beginPath();
            ctx.moveTo(px, top);
            ctx.lineTo(px, top + ph);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.globalAlpha = 1;
            ctx.fillStyle = m.color;
            ctx.beginPath();
            ctx.moveTo(px - 4, top);
            ctx.lineTo(px + 4, top);
            ctx.lineTo(px, top + 6);
            ctx.fill();
        }

        ctx.lineJoin = 'round';
        for (const s of this.series) {
            if (!s.visible) continue;
            const raw = this.store.cols[s.key];
            ctx.strokeStyle = s.color;
            if (this.weight > 0 && s.smooth) {
                ctx.globalAlpha = 0.22;
                ctx.lineWidth = 1;
                strokeDecimated(ctx, xs, raw, i0, i1, sx, sy);
                ctx.globalAlpha = 1;
                ctx.lineWidth = 1.75;
                strokeDecimated(ctx, xs, s.sm, i0, i1, sx, sy);
            } else {
                ctx.lineWidth = 1.5;
                strokeDecimated(ctx, xs, raw, i0, i1, sx, sy);
            }
        }
        ctx.restore();
        this.updateLegend(-1);
        this.drawOverlay();
    };

    /* The legend reads out the row under the pointer, or the newest row. */
    Chart.prototype.updateLegend = function (idx) {
        const n = this.store ? this.store.n : 0;
        for (const s of this.series) {
            let i = idx;
            const raw = n ? this.store.cols[s.key] : [];
            if (i < 0) { i = n - 1; while (i >= 0 && !finite(raw[i])) i--; }
            if (i < 0) { s.legendValue.textContent = '–'; s.legendRaw.textContent = ''; continue; }
            const smoothed = this.weight > 0 && s.smooth;
            s.legendValue.textContent = formatValue(smoothed ? s.sm[i] : raw[i]);
            s.legendRaw.textContent = smoothed ? 'raw ' + formatValue(raw[i]) : '';
        }
    };

    Chart.prototype.drawOverlay = function () {
        const { ctx, w, h } = this.sizeCanvas(this.over);
        ctx.clearRect(0, 0, w, h);
        const g = this.geom;
        this.note.textContent = '';
        if (!g) return;
        if (this.drag) {
            const a = Math.max(g.left, Math.min(this.drag.px0, this.drag.px1));
            const b = Math.min(g.left + g.w, Math.max(this.drag.px0, this.drag.px1));
            ctx.fillStyle = cssVar('--accent-soft', 'rgba(37,99,235,.15)');
            ctx.fillRect(a, g.top, b - a, g.h);
        }
        if (this.hoverX === null || !finite(this.hoverX)) {
            this.updateLegend(-1);
            return;
        }
        const xs = this.store.cols[this.xKey], n = this.store.n;
        const idx = nearestIndex(xs, n, this.hoverX);
        if (idx < 0 || xs[idx] < g.x0 || xs[idx] > g.x1) { this.updateLegend(-1); return; }
        const px = Math.round(g.sx(xs[idx])) + 0.5;
        ctx.strokeStyle = cssVar('--text-dim', '#667');
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(px, g.top);
        ctx.lineTo(px, g.top + g.h);
        ctx.stroke();
        for (const s of this.series) {
            if (!s.visible) continue;
            const v = this.weight > 0 && s.smooth ? s.sm[idx] : this.store.cols[s.key][idx];
            if (!finite(v) || v < g.lo || v > g.hi) continue;
            ctx.fillStyle = s.color;
            ctx.beginPath();
            ctx.arc(px, g.sy(v), 3.5, 0, Math.PI * 2);
            ctx.fill();
        }
        const label = this.opts.formatX ? this.opts.formatX(idx) : String(xs[idx]);
        ctx.font = '11px system-ui, sans-serif';
        const tw = ctx.measureText(label).width + 10;
        const lx = Math.min(Math.max(px - tw / 2, g.left), g.left + g.w - tw);
        ctx.fillStyle = cssVar('--tip-bg', '#111827');
        ctx.fillRect(lx, g.top + g.h + 2, tw, 18);
        ctx.fillStyle = cssVar('--tip-fg', '#fff');
        ctx.textAlign = 'left';
        ctx.textBaseline = 'middle';
        ctx.fillText(label, lx + 5, g.top + g.h + 11);
        this.updateLegend(idx);
        const near = this.markers.filter((m) => finite(m.x) && Math.abs(g.sx(m.x) - px) <= 5);
        this.note.textContent = near.map((m) => m.label).join(' · ');
    };

    global.IllganChart = { Chart, smoothInto, lowerBound, nearestIndex, formatValue };
})(window);
