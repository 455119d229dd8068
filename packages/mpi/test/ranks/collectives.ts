// Run on every rank by test/collectives.test.ts (under mpirun): all-reduce, broadcast and barrier checked against
// what one process computes from every rank's inputs. Prints one JSON line per rank.
import { initMpi } from '../../src/index.js';

function random(seed: number, n: number, Type: Float32ArrayConstructor | Float64ArrayConstructor): Float32Array | Float64Array {
  const out = new Type(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

const mpi = initMpi();
const failures: string[] = [];
const lengths = [1, 2, 7, 1000, 1_000_003];
for (const Type of [Float32Array, Float64Array]) {
  for (const n of lengths) {
    for (const maxChunk of [undefined, 4096]) {
      const seedOf = (r: number): number => r * 7919 + n * 31 + Type.BYTES_PER_ELEMENT;
      const mine = random(seedOf(mpi.rank), n, Type);
      const expected = new Float64Array(n);
      for (let r = 0; r < mpi.size; r++) random(seedOf(r), n, Type).forEach((v, i) => (expected[i] += v));
      const calls = mpi.allReduceSum(mine, maxChunk);
      const wantCalls = Math.ceil(n / (maxChunk ?? 2 ** 31 - 1));
      if (calls !== wantCalls) failures.push(`${Type.name}[${n}] maxChunk ${maxChunk}: ${calls} MPI calls, expected ${wantCalls}`);
      const tol = Type === Float32Array ? 1e-6 : 1e-12;
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(mine[i] - expected[i]));
      if (!(worst <= tol * mpi.size)) failures.push(`${Type.name}[${n}] maxChunk ${maxChunk}: max error ${worst}`);
      // Every rank holds the same bits.
      let weightedSum = 0;
      for (let i = 0; i < n; i++) weightedSum += mine[i] * ((i % 13) + 1);
      const check = new Float64Array([weightedSum]);
      const copy = Float64Array.from(check);
      mpi.broadcast(copy, 0);
      if (copy[0] !== check[0]) failures.push(`${Type.name}[${n}]: ranks differ after all-reduce`);
    }
  }
}
// A view into a larger buffer: only the view changes.
{
  const backing = new Float32Array(10).fill(1);
  mpi.allReduceSum(backing.subarray(3, 6));
  const want = [1, 1, 1, mpi.size, mpi.size, mpi.size, 1, 1, 1, 1];
  if (backing.some((v, i) => v !== want[i])) failures.push(`subarray all-reduce touched ${Array.from(backing)}`);
}
// Broadcast from the last rank, chunked and not.
for (const maxChunk of [undefined, 1000]) {
  const root = mpi.size - 1;
  const a = random(mpi.rank === root ? 12345 : 999 + mpi.rank, 100_003, Float32Array);
  const calls = mpi.broadcast(a, root, maxChunk);
  const want = random(12345, 100_003, Float32Array);
  if (a.some((v, i) => v !== want[i])) failures.push(`broadcast from ${root} (maxChunk ${maxChunk}): values differ`);
  if (calls !== Math.ceil(100_003 / (maxChunk ?? 2 ** 31 - 1))) failures.push(`broadcast calls ${calls}`);
}
// Barrier: rank 0 arrives 400 ms late; nobody leaves before it arrives.
mpi.barrier();
const t0 = Date.now();
if (mpi.rank === 0) await new Promise((r) => setTimeout(r, 400));
mpi.barrier();
const waited = Date.now() - t0;
if (mpi.size > 1 && waited < 350) failures.push(`barrier returned after ${waited} ms, before rank 0 arrived`);
// A bad argument is a JS error, not a crash.
try {
  mpi.allReduceSum(new Int32Array(3) as unknown as Float32Array);
  failures.push('Int32Array accepted');
} catch (err) {
  if (!(err instanceof TypeError)) failures.push(`Int32Array: ${String(err)}`);
}
console.log(JSON.stringify({ rank: mpi.rank, size: mpi.size, localRank: mpi.localRank, library: mpi.library, failures }));
mpi.finalize();
