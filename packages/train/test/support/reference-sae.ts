// An independent float64 reference of the trainer's loss and gradients: plain loops over dense matrices,
// written from the formulas (no gathers or scatters), used to check the TF.js step.
import type { SaeParams } from '../../src/model.js';

export interface ReferenceHyper {
  d: number;
  n: number;
  k: number;
  mseScale: number;
  queryWeight: number;
  kldWeight: number;
  temperature: number;
  auxK: number;
  auxCoef: number;
  auxScale: number;
}

export interface ReferenceBatch {
  x: Float64Array | Float32Array; // [rows, d]
  groups: number;
  neighbours: number;
}

export interface Dense {
  wEnc: Float64Array;
  bEnc: Float64Array;
  wDecT: Float64Array;
  bDec: Float64Array;
}

export function toDense(p: SaeParams): Dense {
  return {
    wEnc: Float64Array.from(p.wEnc),
    bEnc: Float64Array.from(p.bEnc),
    wDecT: Float64Array.from(p.wDecT),
    bDec: Float64Array.from(p.bDec),
  };
}

function topIndices(values: number[], count: number): number[] {
  return values
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, count)
    .map(([, i]) => i);
}

export interface ReferenceResult {
  loss: number;
  mse: number;
  kl: number;
  auxk: number;
  grads: Dense;
  /** residual x - x_hat per row, for evaluating the loss with the AuxK target held fixed */
  residual: Float64Array;
}

/**
 * Loss and gradients of the SAE at `p` on `batch`. `dead` lists latents eligible for AuxK. `fixedResidual`, when
 * given, replaces the AuxK target (x - x_hat), which the trainer treats as a constant (finite differences need it).
 */
export function referenceLoss(
  p: Dense,
  batch: ReferenceBatch,
  h: ReferenceHyper,
  dead: readonly number[],
  fixedResidual?: Float64Array,
): ReferenceResult {
  const { d, n, k } = h;
  const R = batch.groups * (1 + batch.neighbours);
  const x = batch.x;
  const xc = new Float64Array(R * d);
  const z = new Float64Array(R * n);
  const act = new Float64Array(R * n); // dense h
  const xhat = new Float64Array(R * d);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < d; c++) xc[r * d + c] = x[r * d + c]! - p.bDec[c]!;
    const row: number[] = [];
    for (let i = 0; i < n; i++) {
      let s = p.bEnc[i]!;
      for (let c = 0; c < d; c++) s += xc[r * d + c]! * p.wEnc[i * d + c]!;
      z[r * n + i] = s;
      row.push(s);
    }
    for (const i of topIndices(row, k)) act[r * n + i] = Math.max(0, row[i]!);
    for (let c = 0; c < d; c++) {
      let s = p.bDec[c]!;
      for (let i = 0; i < n; i++) s += act[r * n + i]! * p.wDecT[i * d + c]!;
      xhat[r * d + c] = s;
    }
  }
  // Row weights of the reconstruction term: queryWeight on the groups' query rows, 1 on documents.
  const G0 = batch.neighbours > 0 ? batch.groups : 0;
  const rowWeight = (r: number): number => (r < G0 ? h.queryWeight : 1);
  let totalWeight = 0;
  for (let r = 0; r < R; r++) totalWeight += rowWeight(r) * d;
  let mse = 0;
  const g = new Float64Array(R * d);
  for (let j = 0; j < R * d; j++) {
    const diff = xhat[j]! - x[j]!;
    const w = rowWeight(Math.floor(j / d));
    mse += w * diff * diff;
    g[j] = (2 * h.mseScale * w * diff) / totalWeight;
  }
  mse /= totalWeight;

  let kl = 0;
  const G = batch.neighbours > 0 ? batch.groups : 0;
  const M = batch.neighbours;
  const T = h.temperature;
  for (let q = 0; q < G; q++) {
    const s: number[] = [];
    const sh: number[] = [];
    for (let j = 0; j < M; j++) {
      const doc = G + q * M + j;
      let a = 0;
      let b = 0;
      for (let c = 0; c < d; c++) {
        a += x[q * d + c]! * x[doc * d + c]!;
        b += xhat[q * d + c]! * xhat[doc * d + c]!;
      }
      s.push(a / T);
      sh.push(b / T);
    }
    const softmax = (v: number[]): number[] => {
      const max = Math.max(...v);
      const e = v.map((u) => Math.exp(u - max));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((u) => u / sum);
    };
    const pr = softmax(s);
    const ph = softmax(sh);
    for (let j = 0; j < M; j++) kl += (pr[j]! * Math.log(pr[j]! / ph[j]!)) / G;
    for (let j = 0; j < M; j++) {
      const doc = G + q * M + j;
      const coef = (h.kldWeight * (ph[j]! - pr[j]!)) / (T * G);
      for (let c = 0; c < d; c++) {
        g[q * d + c] += coef * xhat[doc * d + c]!;
        g[doc * d + c] += coef * xhat[q * d + c]!;
      }
    }
  }

  const residual = new Float64Array(R * d);
  for (let j = 0; j < R * d; j++) residual[j] = x[j]! - xhat[j]!;
  const target = fixedResidual ?? residual;

  const grads: Dense = {
    wEnc: new Float64Array(n * d),
    bEnc: new Float64Array(n),
    wDecT: new Float64Array(n * d),
    bDec: new Float64Array(d),
  };
  // dz[r, i]: gradient at the pre-activation, non-zero only where a latent is active (main or AuxK path).
  const dz = new Float64Array(R * n);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < n; i++) {
      const a = act[r * n + i]!;
      if (a === 0) continue;
      let dot = 0;
      for (let c = 0; c < d; c++) {
        dot += g[r * d + c]! * p.wDecT[i * d + c]!;
        grads.wDecT[i * d + c] += a * g[r * d + c]!;
      }
      dz[r * n + i] += dot;
    }
    for (let c = 0; c < d; c++) grads.bDec[c] += g[r * d + c]!;
  }

  let auxk = 0;
  if (h.auxK > 0 && dead.length > 0) {
    const kAux = Math.min(h.auxK, dead.length);
    let denom = 1e-12;
    for (let j = 0; j < R * d; j++) denom += target[j]! * target[j]!;
    const eh = new Float64Array(R * d);
    const actA = new Float64Array(R * n);
    for (let r = 0; r < R; r++) {
      const values = dead.map((i) => z[r * n + i]!);
      for (const pos of topIndices(values, kAux)) actA[r * n + dead[pos]!] = Math.max(0, values[pos]!);
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += actA[r * n + i]! * p.wDecT[i * d + c]!;
        eh[r * d + c] = s;
      }
    }
    const gA = new Float64Array(R * d);
    for (let j = 0; j < R * d; j++) {
      const diff = eh[j]! - target[j]!;
      auxk += diff * diff;
      gA[j] = (2 * h.auxCoef * h.auxScale * diff) / denom;
    }
    auxk /= denom;
    for (let r = 0; r < R; r++) {
      for (let i = 0; i < n; i++) {
        const a = actA[r * n + i]!;
        if (a === 0) continue;
        let dot = 0;
        for (let c = 0; c < d; c++) {
          dot += gA[r * d + c]! * p.wDecT[i * d + c]!;
          grads.wDecT[i * d + c] += a * gA[r * d + c]!;
        }
        dz[r * n + i] += dot;
      }
    }
  }

  for (let r = 0; r < R; r++) {
    for (let i = 0; i < n; i++) {
      const v = dz[r * n + i]!;
      if (v === 0) continue;
      grads.bEnc[i] += v;
      for (let c = 0; c < d; c++) {
        grads.wEnc[i * d + c] += v * xc[r * d + c]!;
        grads.bDec[c] -= v * p.wEnc[i * d + c]!;
      }
    }
  }
  const loss = h.mseScale * mse + h.kldWeight * kl + h.auxCoef * h.auxScale * auxk;
  return { loss, mse, kl, auxk, grads, residual };
}

/** One Adam step in float64, PyTorch's formula, with the unit-norm decoder treatment of the trainer. */
export function referenceAdamStep(
  p: Dense,
  grads: Dense,
  lr: number,
  opts: { beta1: number; beta2: number; eps: number; unitNorm: boolean; d: number; n: number },
): Dense {
  const { d, n } = opts;
  const g = { ...grads, wDecT: Float64Array.from(grads.wDecT) };
  if (opts.unitNorm) {
    for (let i = 0; i < n; i++) {
      let along = 0;
      for (let c = 0; c < d; c++) along += g.wDecT[i * d + c]! * p.wDecT[i * d + c]!;
      for (let c = 0; c < d; c++) g.wDecT[i * d + c] -= along * p.wDecT[i * d + c]!;
    }
  }
  const bc1 = 1 - opts.beta1;
  const bc2 = 1 - opts.beta2;
  const out = {} as Dense;
  for (const key of ['wEnc', 'bEnc', 'wDecT', 'bDec'] as const) {
    out[key] = p[key].map((value, j) => {
      const m = (1 - opts.beta1) * g[key][j]!;
      const v = (1 - opts.beta2) * g[key][j]! * g[key][j]!;
      return value - ((lr / bc1) * m) / (Math.sqrt(v) / Math.sqrt(bc2) + opts.eps);
    });
  }
  if (opts.unitNorm) {
    for (let i = 0; i < n; i++) {
      let norm = 0;
      for (let c = 0; c < d; c++) norm += out.wDecT[i * d + c]! ** 2;
      norm = Math.max(Math.sqrt(norm), 1e-12);
      for (let c = 0; c < d; c++) out.wDecT[i * d + c] /= norm;
    }
  }
  return out;
}
