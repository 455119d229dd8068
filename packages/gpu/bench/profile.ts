// Where a step's time goes, from AimEngine.profileStep (every dispatch timed by GPU timestamps): time per kind of
// kernel, with the achieved TFLOP/s of the GEMMs, and the GEMM shapes that take the most time inside the step.
import type { ProfiledDispatch } from '../src/index.js';

const isGemm = (d: ProfiledDispatch): boolean => d.kernel.startsWith('gemm');
/** A GEMM dispatch's floating-point operations: params start with M, N, K; the grid's z is the batch. */
const gemmFlops = (d: ProfiledDispatch): number => 2 * d.params[0] * d.params[1] * d.params[2] * d.workgroups[2];

/** Dense (weight) GEMMs, attention's batched GEMMs, and every other kernel by name. */
function kind(d: ProfiledDispatch): string {
  if (!isGemm(d)) return d.kernel;
  return d.workgroups[2] > 1 ? 'GEMM, batched (attention)' : 'GEMM, dense';
}

export interface ProfileRow {
  readonly what: string;
  readonly dispatches: number;
  readonly ms: number;
  readonly tflops?: number;
}

function rows(profile: readonly ProfiledDispatch[], key: (d: ProfiledDispatch) => string): ProfileRow[] {
  const groups = new Map<string, { dispatches: number; ns: number; flops: number; gemm: boolean }>();
  for (const d of profile) {
    const g = groups.get(key(d)) ?? { dispatches: 0, ns: 0, flops: 0, gemm: isGemm(d) };
    g.dispatches += 1;
    g.ns += d.ns;
    g.flops += isGemm(d) ? gemmFlops(d) : 0;
    groups.set(key(d), g);
  }
  return [...groups]
    .map(([what, g]) => ({ what, dispatches: g.dispatches, ms: g.ns / 1e6, ...(g.gemm && g.ns > 0 ? { tflops: g.flops / g.ns / 1e3 } : {}) }))
    .sort((a, b) => b.ms - a.ms);
}

/** Time per kind of kernel, and the `top` GEMM shapes by time. */
export function summariseProfile(profile: readonly ProfiledDispatch[], top = 8): { kinds: ProfileRow[]; gemmShapes: ProfileRow[]; totalMs: number } {
  const shape = (d: ProfiledDispatch): string => `${d.kernel} ${d.params[0]}x${d.params[1]}x${d.params[2]}${d.workgroups[2] > 1 ? ` x${d.workgroups[2]}` : ''}`;
  return {
    kinds: rows(profile, kind),
    gemmShapes: rows(profile.filter(isGemm), shape).slice(0, top),
    totalMs: profile.reduce((s, d) => s + d.ns, 0) / 1e6,
  };
}

/** The two markdown tables of one profiled step; `stepMs` is the same step timed end to end (without profiling). */
export function profileTables(
  title: string,
  stepMs: number,
  summary: ReturnType<typeof summariseProfile>,
  fmt: (x: number, digits?: number) => string,
): string[] {
  const { kinds, gemmShapes, totalMs } = summary;
  const tflops = (r: ProfileRow): string => (r.tflops === undefined ? '-' : fmt(r.tflops));
  return [
    `\n| ${title}: kernel | dispatches | ms | share of kernel time | TFLOP/s |\n|---|---|---|---|---|`,
    ...kinds.map((r) => `| ${r.what} | ${r.dispatches} | ${fmt(r.ms, 2)} | ${fmt(r.ms / totalMs, 3)} | ${tflops(r)} |`),
    `| all kernels | ${kinds.reduce((n, r) => n + r.dispatches, 0)} | ${fmt(totalMs, 2)} | 1 | (the step end to end: ${fmt(stepMs, 2)} ms) |`,
    `\n| ${title}: slowest GEMM shapes (M x N x K, x batch) | dispatches | ms | TFLOP/s |\n|---|---|---|---|`,
    ...gemmShapes.map((r) => `| ${r.what} | ${r.dispatches} | ${fmt(r.ms, 2)} | ${tflops(r)} |`),
  ];
}
