// The binding's side of bench/run.ts: the same sizes, iterations and timing as bench/allreduce.c.
import { initMpi } from '../src/index.js';

const mpi = initMpi();
for (let mb = 1; mb <= 256; mb *= 4) {
  const n = (mb * 1024 * 1024) / 4;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (i % 97) * 0.01;
  const iters = mb <= 4 ? 20 : mb <= 64 ? 6 : 3;
  let best = Infinity;
  mpi.allReduceSum(a); // warm-up
  for (let it = 0; it < iters; it++) {
    mpi.barrier();
    const t0 = mpi.wtime();
    mpi.allReduceSum(a);
    best = Math.min(best, mpi.wtime() - t0);
  }
  if (mpi.rank === 0) console.log(`${mb * 1024 * 1024} ${best.toFixed(9)}`);
}
mpi.finalize();
