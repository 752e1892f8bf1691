/* dashboard.test.js: the dashboard (web/) in headless Chromium against the real daemon.
 *
 * usage: node dashboard.test.js ILLGAN_BINARY WEB_DIR WORK_DIR
 *
 * It writes a small training set of PNGs into WORK_DIR, starts `illgan serve` (tiny preset,
 * 127.0.0.1 port 0, state in WORK_DIR) and drives the page as a person would: the page loads
 * with no console errors and fetches nothing from another origin; curves gain points; pause
 * and resume change the header and stop and restart the step counter; checkpoint-now; a
 * hyperparameter change is applied (and reaches the learning-rate curve) and a bad value shows
 * the daemon's own error next to its field; the sample slider shows an older grid; a face
 * opens large; new samples honour a seed; the overfitting view shows images and distances of
 * files from the training set; the page says so when the daemon goes away and comes back after
 * a restart; and, against a second daemon with auth_token_file, the token prompt works (wrong
 * token asked again, right token kept for the tab, a cancelled prompt reported as refused)
 * and, with auth_reads, the page asks on load and then shows everything.
 * Screenshots (laptop and phone width) go to WORK_DIR/screenshots.
 *
 * Every wait polls a condition with a deadline, never a bare sleep; every daemon started is
 * stopped in `finally` (and its pid is in WORK_DIR/pids for the shell wrapper's trap).
 * Exit status 0 only when every check passed. */
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const zlib = require('zlib');
const http = require('http');
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');

const [BIN, WEB, WORK] = process.argv.slice(2).map((p) => p && path.resolve(p));
if (!BIN || !WEB || !WORK) {
    console.error('usage: node dashboard.test.js ILLGAN_BINARY WEB_DIR WORK_DIR');
    process.exit(2);
}
const SHOTS = path.join(WORK, 'screenshots');
const TOKEN = 'browser-test-token-' + process.pid;
const T0 = Date.now();
const CHECK_MS = 25000;  /* deadline of any single wait */

const log = (msg) => console.log('[' + ((Date.now() - T0) / 1000).toFixed(1).padStart(5) + 's] ' + msg);
let passed = 0;
function ok(name, detail) { passed++; log('ok   ' + name + (detail ? ': ' + detail : '')); }
function check(cond, what) { if (!cond) throw new Error('check failed: ' + what); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Polls fn until it returns something truthy; fails with the last value after ms. */
async function waitFor(desc, fn, ms = CHECK_MS) {
    const end = Date.now() + ms;
    let last;
    for (;;) {
        last = await fn();
        if (last) return last;
        if (Date.now() > end) throw new Error('timed out after ' + ms + ' ms waiting for ' + desc + ' (last: ' + JSON.stringify(last) + ')');
        await sleep(100);
    }
}

/* ---------- a small training set: 40 distinct 32x32 PNGs ---------- */

const CRC = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
});
function crc32(buf) {
    let c = -1;
    for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
}
function pngChunk(type, data) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
}
function encodePng(side, rgb) {
    const raw = Buffer.alloc((side * 3 + 1) * side);
    for (let y = 0; y < side; y++) rgb.copy(raw, y * (side * 3 + 1) + 1, y * side * 3, (y + 1) * side * 3);
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(side, 0);
    ihdr.writeUInt32BE(side, 4);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* RGB */
    return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr),
        pngChunk('IDAT', zlib.deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}
/* A disc ("face") of varying colour, size and position on a plain background, with two eyes. */
function writeDataset(dir, count, side) {
    fs.mkdirSync(dir, { recursive: true });
    const names = [];
    for (let i = 0; i < count; i++) {
        const rgb = Buffer.alloc(side * side * 3);
        const bg = [(i * 53) % 200 + 40, (i * 97) % 200 + 40, (i * 31) % 200 + 40];
        const fg = [255 - bg[0], 220 - (i * 13) % 120, (i * 71) % 256];
        const cx = side / 2 + (i % 5) - 2, cy = side / 2 + (i % 3) - 1, r = side * (0.28 + (i % 4) * 0.04);
        for (let y = 0; y < side; y++) {
            for (let x = 0; x < side; x++) {
                const inFace = Math.hypot(x - cx, y - cy) < r;
                const eye = Math.hypot(x - (cx - r / 2.5), y - (cy - r / 4)) < r / 6 ||
                    Math.hypot(x - (cx + r / 2.5), y - (cy - r / 4)) < r / 6;
                const c = eye ? [20, 20, 20] : inFace ? fg : bg;
                rgb.set(c, (y * side + x) * 3);
            }
        }
        const name = String(i).padStart(5, '0') + '.png';
        fs.writeFileSync(path.join(dir, name), encodePng(side, rgb));
        names.push(name);
    }
    return names;
}

/* ---------- daemons ---------- */

const daemons = [];

function httpJSON(method, url, body, headers) {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method, headers: Object.assign({ 'Content-Type': 'application/json' }, headers || {}) }, (res) => {
            let data = '';
            res.on('data', (d) => { data += d; });
            res.on('end', () => {
                let json = null;
                try { json = JSON.parse(data); } catch (_) { /* left null */ }
                resolve({ status: res.statusCode, json, headers: res.headers });
            });
        });
        req.on('error', reject);
        req.setTimeout(10000, () => req.destroy(new Error('timeout ' + url)));
        if (body !== undefined) req.write(JSON.stringify(body));
        req.end();
    });
}

function portFrom(stateDir, logFile) {
    try {
        const p = parseInt(fs.readFileSync(path.join(stateDir, 'port'), 'utf8'), 10);
        if (p > 0) return p;
    } catch (_) { /* not written yet */ }
    try {
        const m = /listening on (?:http:\/\/)?(?:127\.0\.0\.1|localhost):(\d+)/.exec(fs.readFileSync(logFile, 'utf8'));
        if (m) return Number(m[1]);
    } catch (_) { /* no log yet */ }
    return 0;
}

async function startDaemon(name, { stateDir, listen = '127.0.0.1:0', extra = '' }) {
    fs.mkdirSync(stateDir, { recursive: true });
    try { fs.unlinkSync(path.join(stateDir, 'port')); } catch (_) { /* none */ }
    const conf = path.join(WORK, name + '.conf');
    fs.writeFileSync(conf, [
        'listen = ' + listen,
        'state_dir = ' + stateDir,
        'data = ' + path.join(WORK, 'data'),
        'web_dir = ' + WEB,
        'preset = tiny',
        'seed = 1',
        'metrics_every = 1',
        'sample_every = 5',
        'checkpoint_every = 0',
        extra,
    ].join('\n') + '\n');
    const logFile = path.join(WORK, name + '.log');
    const fd = fs.openSync(logFile, 'a');
    const proc = spawn(BIN, ['serve', '--config', conf], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const d = { name, proc, logFile, stateDir, exited: false, code: null };
    proc.on('exit', (code, sig) => { d.exited = true; d.code = code === null ? sig : code; });
    daemons.push(d);
    fs.appendFileSync(path.join(WORK, 'pids'), proc.pid + '\n');
    try {
        d.port = await waitFor(name + ' to write its port', () => {
            if (d.exited) throw new Error(name + ' exited with ' + d.code);
            return portFrom(stateDir, logFile);
        }, 20000);
        d.url = 'http://127.0.0.1:' + d.port + '/';
        await waitFor(name + ' /healthz', async () => {
            if (d.exited) throw new Error(name + ' exited with ' + d.code);
            try { return (await httpJSON('GET', d.url + 'healthz')).status === 200; } catch (_) { return false; }
        }, 20000);
    } catch (e) {
        e.message += '\n--- ' + logFile + ' (tail) ---\n' + tail(logFile);
        throw e;
    }
    log('started ' + name + ' (pid ' + proc.pid + ') at ' + d.url);
    return d;
}

function tail(file) {
    try { return fs.readFileSync(file, 'utf8').split('\n').slice(-25).join('\n'); } catch (_) { return '(no log)'; }
}

async function stopDaemon(d) {
    if (d.exited) return;
    d.proc.kill('SIGTERM');
    const end = Date.now() + 15000;
    while (!d.exited && Date.now() < end) await sleep(50);
    if (!d.exited) {
        d.proc.kill('SIGKILL');
        while (!d.exited) await sleep(50);
        throw new Error(d.name + ' did not stop within 15 s of SIGTERM');
    }
}

/* ---------- the browser ---------- */

const consoleLog = [];
let phase = 'start';
let currentPage = null;  /* screenshotted when a check fails */
/* Phases that provoke HTTP errors on purpose, and the console lines Chromium writes for them. */
const EXPECTED = {
    'hparams-bad': /status of 400/,
    restart: /net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|CONNECTION_CLOSED)/,
    token: /status of 401/,
};

function watch(page, base) {
    currentPage = page;
    page.on('console', (m) => {
        if (m.type() === 'error') consoleLog.push({ phase, type: m.type(), text: m.text() });
    });
    page.on('pageerror', (e) => consoleLog.push({ phase, type: 'pageerror', text: String(e && e.stack || e) }));
    page.on('request', (r) => {
        const u = r.url();
        if (!u.startsWith(base) && !u.startsWith('blob:') && !u.startsWith('data:')) {
            consoleLog.push({ phase, type: 'foreign-request', text: u });
        }
    });
    page.on('response', (r) => {
        const u = r.url();
        if (r.status() >= 400 && !u.includes('/api/') && !u.includes('/sample') && !u.includes('neighbors')) {
            consoleLog.push({ phase, type: 'static-' + r.status(), text: u });
        }
    });
}

function unexpectedConsole() {
    return consoleLog.filter((c) => !(c.type === 'error' && EXPECTED[c.phase] && EXPECTED[c.phase].test(c.text)));
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
const attr = (page, sel, a) => page.$eval(sel, (e, name) => e.getAttribute(name), a);
const num = async (page, sel, a) => Number(await attr(page, sel, a));

/* Non-background pixels drawn on a canvas. */
const inkOf = (page, sel) => page.$eval(sel, (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
    return ink;
});

async function checkMainDaemon(context, a, names) {
    const page = await context.newPage();
    watch(page, a.url);
    phase = 'load';
    await page.goto(a.url);
    await waitFor('the header to show training', async () => (await attr(page, '#state', 'data-state')) === 'training');
    const n0 = await waitFor('the loss chart to get points', async () => num(page, '#chart-loss', 'data-points'));
    await waitFor('the event log and the hyperparameter form', async () =>
        (await page.$$('#event-list li')).length > 0 && (await page.$$('.hp-row')).length > 0);
    const rows = (await page.$$('.hp-row')).length;
    const hp = (await httpJSON('GET', a.url + 'api/hparams')).json;
    check(rows === Object.keys(hp.hparams).length, 'one form row per live key (' + rows + ' rows, ' + Object.keys(hp.hparams).length + ' keys)');
    const bad = unexpectedConsole();
    check(bad.length === 0, 'no console errors, failed static files or foreign requests on load: ' + JSON.stringify(bad));
    ok('page loads', 'state training, ' + n0 + ' metric rows, ' + rows + ' hyperparameter rows, no console errors, no request off ' + a.url);

    phase = 'curves';
    const n1 = await waitFor('more points on the curves', async () => {
        const n = await num(page, '#chart-loss', 'data-points');
        return n > n0 ? n : 0;
    });
    const ink = await inkOf(page, '#chart-loss canvas:not(.over)');
    check(ink > 500, 'the loss chart drew lines (' + ink + ' pixels)');
    const rowsDaemon = (await httpJSON('GET', a.url + 'api/metrics?since=0&limit=10000')).json.metrics;
    check(n1 <= rowsDaemon.length, 'the page has no rows the daemon lacks (' + n1 + ' <= ' + rowsDaemon.length + ')');
    await page.$eval('#smoothing', (s) => { s.value = '0'; s.dispatchEvent(new Event('input')); });
    const box = await page.$eval('#chart-loss canvas.over', (c) => { const r = c.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
    await page.mouse.move(box.x + box.w * 0.3, box.y + box.h / 2);
    const readout = await waitFor('a hover read-out', async () => (await page.$eval('#chart-loss .lg b', (b) => b.textContent)));
    const formatted = await page.evaluate((vals) => vals.map((v) => window.IllganChart.formatValue(v)), rowsDaemon.map((r) => r.loss_d));
    check(formatted.includes(readout), 'hovered D loss ' + readout + ' is a value the daemon stored');
    const crosshair = await inkOf(page, '#chart-loss canvas.over');
    check(crosshair > 0, 'a crosshair is drawn under the pointer');
    await page.$eval('#smoothing', (s) => { s.value = '0.9'; s.dispatchEvent(new Event('input')); });
    const raw = await waitFor('the raw value beside the smoothed one', async () => {
        const t = await page.$eval('#chart-loss .lg small', (b) => b.textContent);
        return /^raw /.test(t) ? t : null;
    });
    await page.mouse.move(0, 0);
    ok('curves', n0 + ' -> ' + n1 + ' rows as training runs; hover reads D = ' + readout + ' (a stored value), ' + raw + ' when smoothed');

    phase = 'pause';
    check((await text(page, '#btn-pause')) === 'Pause', 'the button offers Pause while training');
    await page.click('#btn-pause');
    await waitFor('the header to show paused', async () => (await attr(page, '#state', 'data-state')) === 'paused');
    check((await text(page, '#btn-pause')) === 'Resume', 'the button offers Resume once paused');
    const st = (await httpJSON('GET', a.url + 'api/status')).json;
    check(st.state === 'paused', 'the daemon says paused');
    const polls0 = await num(page, '#state', 'data-polls');
    await waitFor('three more status polls', async () => (await num(page, '#state', 'data-polls')) >= polls0 + 3);
    const pausedStep = await num(page, '#step', 'data-step');
    check(pausedStep === st.step, 'the header shows the paused step ' + st.step + ' (shows ' + pausedStep + ')');
    await page.click('#btn-pause');
    await waitFor('the header to show training again', async () => (await attr(page, '#state', 'data-state')) === 'training');
    const later = await waitFor('the step counter to move again', async () => {
        const s = await num(page, '#step', 'data-step');
        return s > pausedStep ? s : 0;
    });
    const kinds = await waitFor('pause and resume in the event log, newest first', async () => {
        const k = await page.$$eval('#event-list li', (lis) => lis.map((li) => li.dataset.kind));
        return k.indexOf('resume') >= 0 && k.indexOf('pause') > k.indexOf('resume') ? k : null;
    });
    ok('pause and resume', 'header paused at step ' + pausedStep + ' over 3 polls, then training and step ' + later + '; events ' + kinds.slice(0, 4).join(','));

    phase = 'checkpoint';
    await page.click('#btn-checkpoint');
    const ck = await waitFor('the header to show the new checkpoint', async () => {
        const s = (await httpJSON('GET', a.url + 'api/status')).json;
        const shown = await text(page, '#checkpoint');
        return s.checkpoint && shown.startsWith('step ' + s.checkpoint.step.toLocaleString('en-US')) ? shown : null;
    });
    ok('checkpoint now', 'header shows "' + ck + '"');

    phase = 'hparams';
    await page.fill('#hp-lr_d', '0.0001');
    await page.click('#hp-apply');
    const applied = await waitFor('the change to be confirmed', async () => {
        const t = await text(page, '#hp-result');
        return t.startsWith('Applied from step') ? t : null;
    });
    const eff = await num(page, '#hp-result', 'data-effective-step');
    const hp2 = (await httpJSON('GET', a.url + 'api/hparams')).json;
    check(hp2.hparams.lr_d === 0.0001, 'the daemon has lr_d = 0.0001 (has ' + hp2.hparams.lr_d + ')');
    check((await text(page, '#hp-now-lr_d')).includes('set at step ' + eff.toLocaleString('en-US')), 'the row says from which step');
    await waitFor('the learning-rate curve to show 1e-4', async () =>
        (await page.$eval('#chart-lr .lg b', (b) => b.textContent)) === '1.000e-4');
    ok('hyperparameter change', '"' + applied + '"; daemon lr_d = 0.0001; learning-rate curve follows');

    phase = 'hparams-bad';
    await page.fill('#hp-d_steps', '99');
    await page.click('#hp-apply');
    const shown = await waitFor('the daemon\'s error next to d_steps', async () =>
        page.$eval('[data-error-for="hp-d_steps"]', (e) => e.textContent));
    const direct = await httpJSON('PATCH', a.url + 'api/hparams', { d_steps: 99 });
    check(direct.status === 400 && direct.json.error.field === 'd_steps', 'the daemon refuses d_steps = 99');
    check(shown === direct.json.error.message, 'the page shows the daemon\'s message ("' + shown + '" vs "' + direct.json.error.message + '")');
    check((await httpJSON('GET', a.url + 'api/hparams')).json.hparams.d_steps === hp.hparams.d_steps, 'd_steps unchanged');
    await page.click('#hp-revert');
    ok('bad hyperparameter', 'next to d_steps: "' + shown + '"');

    phase = 'samples';
    const grids = await waitFor('three stored grids', async () => {
        const max = Number(await attr(page, '#history-slider', 'max'));
        const step = await attr(page, '#history-img', 'data-step');
        return max >= 2 && step ? max + 1 : 0;
    });
    const list = (await httpJSON('GET', a.url + 'api/samples')).json.samples;
    const latest = await num(page, '#history-img', 'data-step');
    await page.$eval('#history-slider', (s) => { s.value = '0'; s.dispatchEvent(new Event('input')); });
    await waitFor('the oldest grid', async () => (await num(page, '#history-img', 'data-step')) === list[0].step);
    check(list[0].step < latest, 'the oldest grid is older than the latest shown');
    check((await text(page, '#history-caption')).startsWith('step ' + list[0].step.toLocaleString('en-US')), 'the caption names its step');
    check(!(await page.$eval('#history-follow', (c) => c.checked)), 'moving back stops following the latest');
    const natural = await page.$eval('#history-img', (i) => i.naturalWidth);
    check(natural > 0, 'the grid image decoded');
    const iw = await page.$eval('#history-img', (i) => i.getBoundingClientRect().width);
    await page.click('#history-img', { position: { x: iw * 0.06, y: iw * 0.06 } });
    await waitFor('the enlarged face', async () => page.$eval('#lightbox', (d) => d.open));
    const cap = await text(page, '#lightbox-caption');
    check(/^Image 1 of the stored grid/.test(cap), 'the first face opened large ("' + cap + '")');
    await waitFor('the face through training', async () => (await page.$$('#lightbox-strip canvas')).length >= 2);
    await page.click('#lightbox-close');
    ok('sample history', grids + ' grids; slider shows step ' + list[0].step + ' instead of ' + latest + '; a face opens large with its history');

    await page.fill('#gen-seed', '7');
    await page.click('#gen-btn');
    await waitFor('new samples with seed 7', async () => (await attr(page, '#gen-img', 'data-seed')) === '7');
    ok('new samples', await text(page, '#gen-caption'));

    phase = 'neighbours';
    await page.fill('#nn-n', '3');
    await page.fill('#nn-k', '2');
    await page.click('#nn-btn');
    await waitFor('3 rows of neighbours', async () => (await page.$$('.nn-row')).length === 3);
    const cells = await page.$$eval('.nn-row', (rs) => rs.map((r) => [...r.querySelectorAll('.nn-cell')].map((c) => ({
        mse: Number(c.querySelector('.mse').textContent), name: c.querySelector('small').textContent }))));
    for (const row of cells) {
        check(row.length === 2, 'two neighbours per generated image');
        check(row.every((c) => c.mse >= 0 && c.mse <= 1), 'distances are MSEs in 0..1: ' + JSON.stringify(row));
        check(row[0].mse <= row[1].mse, 'nearest first');
        check(row.every((c) => names.includes(c.name)), 'neighbours are files of the training set');
    }
    const gen = await inkOf(page, '.nn-row .nn-gen canvas');
    check(gen > 0, 'the generated image is drawn');
    check((await text(page, '#overfit .hint')).replace(/\s+/g, ' ').includes('Pixel distance is a weak test of memorisation'), 'the page says pixel distance is a weak test');
    ok('overfitting view', JSON.stringify(cells.map((r) => r.map((c) => c.name + ' ' + c.mse))));

    phase = 'screenshots';
    await page.$eval('#smoothing', (s) => { s.value = '0.6'; s.dispatchEvent(new Event('input')); });
    await page.$$eval('.toast', (ts) => ts.forEach((t) => t.click()));  /* they would float mid-picture */
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, 'desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await waitFor('the phone layout', async () => page.evaluate(() => getComputedStyle(document.querySelector('.layout')).gridTemplateColumns.split(' ').length === 1));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    check(overflow <= 390, 'nothing wider than a phone (page is ' + overflow + ' px wide)');
    await page.screenshot({ path: path.join(SHOTS, 'phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1366, height: 900 });
    await page.evaluate(() => window.scrollTo(0, 0));
    ok('screenshots', 'desktop.png, phone.png (no horizontal overflow at 390 px)');
    return page;
}

async function checkRestart(page, a, names) {
    phase = 'restart';
    await stopDaemon(a);
    await waitFor('the page to say the daemon is gone', async () =>
        (await attr(page, '#state', 'data-state')) === 'offline' && /Lost contact/.test(await text(page, '#banner')));
    const lost = await text(page, '#banner');
    const again = await startDaemon('a2', { stateDir: a.stateDir, listen: '127.0.0.1:' + a.port });
    const back = await waitFor('the page to say it reconnected', async () => {
        const t = await text(page, '#banner');
        return (await attr(page, '#state', 'data-state')) === 'training' && /Reconnected/.test(t) ? t : null;
    });
    check(/restarted/.test(back), 'the page says the daemon restarted ("' + back + '")');
    await waitFor('curves reloaded after the restart', async () => (await num(page, '#chart-loss', 'data-points')) > 0);
    ok('daemon restart', '"' + lost + '" then "' + back + '"');
    await page.close();
    await stopDaemon(again);
}

async function checkToken(context) {
    phase = 'token';
    const tokenFile = path.join(WORK, 'token');
    fs.writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
    const b = await startDaemon('b', { stateDir: path.join(WORK, 'state-b'), extra: 'auth_token_file = ' + tokenFile });
    const page = await context.newPage();
    watch(page, b.url);
    await page.goto(b.url);
    await waitFor('the header to show training', async () => (await attr(page, '#state', 'data-state')) === 'training');
    check(await page.$eval('#btn-token', (e) => !e.hidden), 'the page shows that this daemon has a token');
    await page.click('#btn-pause');
    await waitFor('the token prompt', async () => page.$eval('#token-dialog', (d) => d.open));
    check(/requires an access token/.test(await text(page, '#token-reason')), 'the prompt says why');
    await page.fill('#token-input', 'wrong-token');
    await page.click('#token-ok');
    await waitFor('the prompt again after a wrong token', async () =>
        (await page.$eval('#token-dialog', (d) => d.open)) && /refused this token/.test(await text(page, '#token-reason')));
    await page.fill('#token-input', TOKEN);
    await page.click('#token-ok');
    await waitFor('paused with the right token', async () => (await attr(page, '#state', 'data-state')) === 'paused');
    check((await page.evaluate(() => sessionStorage.getItem('illgan.token'))) === TOKEN, 'the token is kept in sessionStorage');
    check((await httpJSON('GET', b.url + 'api/status')).json.state === 'paused', 'the daemon is paused');
    await page.reload();
    await waitFor('the header after reload', async () => (await attr(page, '#state', 'data-state')) === 'paused');
    await page.click('#btn-pause');
    await waitFor('training again without a prompt', async () => (await attr(page, '#state', 'data-state')) === 'training');
    check(!(await page.$eval('#token-dialog', (d) => d.open)), 'no prompt with the kept token');
    ok('token prompt', 'asked once, asked again after a wrong token, kept for the tab across a reload');

    const before = (await httpJSON('GET', b.url + 'api/status')).json.checkpoint;
    await page.click('#btn-token');
    await page.click('#token-forget');
    await page.click('#btn-checkpoint');
    await waitFor('the token prompt', async () => page.$eval('#token-dialog', (d) => d.open));
    await page.click('#token-cancel');
    const refused = await waitFor('a refusal message', async () => {
        const t = await page.$$eval('.toast-error', (ts) => ts.map((x) => x.textContent).join(' | '));
        return /refused/.test(t) && /401/.test(t) ? t : null;
    });
    const st = (await httpJSON('GET', b.url + 'api/status')).json;
    check(JSON.stringify(st.checkpoint) === JSON.stringify(before), 'no checkpoint was written without the token');
    ok('refused action', '"' + refused + '"');
    await page.close();  /* an open keep-alive connection slows the daemon's exit */
    await stopDaemon(b);
}

/* auth_reads = true: even the status needs the token, so the page asks as it loads, and
 * every image (fetched with the token, as an <img src> could not send it) must still show. */
async function checkTokenReads(context) {
    phase = 'token';
    const tokenFile = path.join(WORK, 'token');
    const c = await startDaemon('c', { stateDir: path.join(WORK, 'state-c'), extra: 'auth_token_file = ' + tokenFile + '\nauth_reads = true' });
    const page = await context.newPage();
    watch(page, c.url);
    await page.goto(c.url);
    await waitFor('the token prompt on load', async () => page.$eval('#token-dialog', (d) => d.open));
    await page.click('#token-cancel');
    const said = await waitFor('the page to say reads need a token', async () => {
        const t = await text(page, '#banner');
        return /needs an access token/.test(t) ? t : null;
    });
    await page.click('#banner button');
    await waitFor('the token prompt again', async () => page.$eval('#token-dialog', (d) => d.open));
    await page.fill('#token-input', TOKEN);
    await page.click('#token-ok');
    await waitFor('curves, a stored grid and the form with the token', async () =>
        (await num(page, '#chart-loss', 'data-points')) > 0 && (await attr(page, '#history-img', 'data-step')) &&
        (await page.$$('.hp-row')).length > 0);
    check(await page.$eval('#banner', (b) => b.hidden), 'the banner went away once the token worked');
    ok('token for reads', '"' + said + '" until the token was given; then curves, grids and the form load');
    await page.close();
    await stopDaemon(c);
}

async function main() {
    fs.mkdirSync(SHOTS, { recursive: true });
    const names = writeDataset(path.join(WORK, 'data'), 40, 32);
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'illgan-chromium-'));
    let context = null;
    try {
        const a = await startDaemon('a', { stateDir: path.join(WORK, 'state-a') });
        context = await chromium.launchPersistentContext(profile, {
            executablePath: '/usr/bin/chromium',
            headless: true,
            viewport: { width: 1366, height: 900 },
            args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        });
        context.setDefaultTimeout(CHECK_MS);
        const page = await checkMainDaemon(context, a, names);
        await checkRestart(page, a, names);
        await checkToken(context);
        await checkTokenReads(context);
        const bad = unexpectedConsole();
        check(bad.length === 0, 'no unexpected console errors, failed static files or foreign requests: ' + JSON.stringify(bad));
        ok('console', consoleLog.length + ' expected error lines (deliberate 400/401 and refused connections), nothing else');
    } catch (e) {
        if (currentPage && !currentPage.isClosed()) {
            await currentPage.screenshot({ path: path.join(SHOTS, 'failure.png'), fullPage: true }).catch(() => {});
        }
        throw e;
    } finally {
        if (context) await context.close().catch(() => {});
        for (const d of daemons) await stopDaemon(d).catch((e) => log('warning: ' + e.message));
        fs.rmSync(profile, { recursive: true, force: true });
    }
}

main().then(() => {
    log(passed + ' checks passed');
    process.exit(0);
}, (e) => {
    log('FAIL (' + phase + '): ' + (e && e.stack || e));
    for (const d of daemons) log('--- ' + d.logFile + ' (tail) ---\n' + tail(d.logFile));

    process.exit(1);
});
