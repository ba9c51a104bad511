// The progress reporter: a redrawn bar with rate and ETA on a TTY, plain lines otherwise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createProgressReporter, formatDuration } from '../src/progress.js';

function sink(): Writable & { text: string } {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stream.text += chunk.toString();
      done();
    },
  }) as Writable & { text: string };
  stream.text = '';
  return stream;
}

describe('progress', () => {
  it('formats durations', () => {
    assert.equal(formatDuration(5.4), '5s');
    assert.equal(formatDuration(185), '3m05s');
    assert.equal(formatDuration(3720), '1h02m');
    assert.equal(formatDuration(Number.POSITIVE_INFINITY), '--');
  });

  it('draws done/total, rate and ETA in place on a TTY', () => {
    const out = sink();
    let clock = 0;
    const report = createProgressReporter(out, true, () => clock);
    report({ type: 'progress', phase: 'train', done: 1, total: 10, epoch: 1, loss: 0.5 });
    clock = 2000;
    report({ type: 'progress', phase: 'train', done: 5, total: 10, epoch: 1, loss: 0.25 });
    assert.match(out.text, /\r\x1b\[2Kepoch 1 \[#{12}-{12}\] 5\/10 2\.50\/s ETA 2s loss 0\.2500/);
  });

  it('prints no bar off a TTY, only epoch lines', () => {
    const out = sink();
    const report = createProgressReporter(out, false);
    report({ type: 'progress', phase: 'train', done: 5, total: 10, epoch: 1 });
    assert.equal(out.text, '');
    report({
      type: 'epoch',
      record: {
        epoch: 1,
        step: 10,
        lr: 1e-3,
        train: { loss: 0.5, mse: 0.4, kl: 0.1, auxk: 0 },
        validation: null,
        deadFraction: 0.25,
        stepsPerSecond: 3,
        rowsPerSecond: 1500,
        seconds: 3.3,
        backend: 'wasm',
      },
    });
    assert.match(
      out.text,
      /^epoch 1: loss 0\.5000 \(mse 0\.4000 kl 0\.100 auxk 0\.00\) dead 25\.0% lr 1\.00e-3 3\.00 steps\/s\n$/,
    );
  });
});
