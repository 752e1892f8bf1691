// Renders illgan's default training set: DiceBear "adventurer" faces (art "Adventurer" by
// Lisa Wischofsky, CC BY 4.0, via DiceBear) as 64x64 PNGs on a white background.
//
// usage: node render.mjs OUT_DIR [COUNT] [SIZE]
//
// Face i uses the seed "adventurer-<i>" and goes to OUT_DIR/adventurer-<i, 5 digits>.png, so
// the same versions of the pinned packages (package.json, package-lock.json) give the same
// pictures. Files already there are kept, so an interrupted run resumes; each file is
// written under a temporary name and renamed, so none is ever half written. Work is split
// over worker threads (one per CPU, at most 8); progress goes to stderr.
import { createAvatar } from '@dicebear/core';
import * as adventurer from '@dicebear/adventurer';
import { Resvg } from '@resvg/resvg-js';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

function fileName(i) {
  return `adventurer-${String(i).padStart(5, '0')}.png`;
}

function render(seed, size) {
  const svg = createAvatar(adventurer, { seed }).toString();
  const resvg = new Resvg(svg, { fitTo: { mode: 'width', value: size }, background: 'white' });
  return resvg.render().asPng();
}

if (!isMainThread) {
  const { dir, indices, size } = workerData;
  for (const i of indices) {
    const path = join(dir, fileName(i));
    const tmp = join(dir, `.${fileName(i)}.tmp`);
    writeFileSync(tmp, render(`adventurer-${i}`, size));
    renameSync(tmp, path);
    parentPort.postMessage(1);
  }
} else {
  const [dir, countArg = '20000', sizeArg = '64'] = process.argv.slice(2);
  const count = Number(countArg);
  const size = Number(sizeArg);
  if (!dir || !Number.isInteger(count) || count < 1 || !Number.isInteger(size) || size < 1) {
    console.error('usage: node render.mjs OUT_DIR [COUNT] [SIZE]');
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  const todo = [];
  for (let i = 0; i < count; i++) if (!existsSync(join(dir, fileName(i)))) todo.push(i);
  console.error(`render: ${count - todo.length} of ${count} faces already in ${dir}, ` +
                `${todo.length} to render`);
  if (todo.length === 0) process.exit(0);

  const nworkers = Math.max(1, Math.min(8, availableParallelism(), todo.length));
  const tty = process.stderr.isTTY;
  const start = Date.now();
  let done = 0;
  let lastTenth = 0;
  let lastDraw = 0;
  let failed = false;
  const progress = () => {
    const secs = (Date.now() - start) / 1000;
    const rate = done / Math.max(secs, 1e-3);
    const left = Math.round((todo.length - done) / Math.max(rate, 1e-3));
    const line = `render: ${done}/${todo.length} (${Math.floor((100 * done) / todo.length)}%), ` +
                 `${rate.toFixed(0)} faces/s, ${left} s left`;
    if (tty) {
      process.stderr.write(`\r${line}\x1b[K`);
    } else {
      console.error(line);
    }
  };
  let running = nworkers;
  for (let w = 0; w < nworkers; w++) {
    const indices = todo.filter((_, k) => k % nworkers === w);
    const worker = new Worker(new URL(import.meta.url), { workerData: { dir, indices, size } });
    worker.on('message', () => {
      done++;
      const now = Date.now();
      const tenth = Math.floor((10 * done) / todo.length);
      if (tty ? now - lastDraw > 200 || done === todo.length : tenth > lastTenth) {
        lastDraw = now;
        lastTenth = tenth;
        progress();
      }
    });
    worker.on('error', (e) => {
      console.error(`\nrender: ${e.message}`);
      failed = true;
    });
    worker.on('exit', (code) => {
      if (code !== 0) failed = true;
      if (--running === 0) {
        if (tty) process.stderr.write('\n');
        const secs = ((Date.now() - start) / 1000).toFixed(1);
        console.error(failed ? 'render: failed' : `render: ${done} faces in ${secs} s`);
        process.exit(failed ? 1 : 0);
      }
    });
  }
}
