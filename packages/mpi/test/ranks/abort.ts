// Run by test/collectives.test.ts: rank 0 waits in an all-reduce that rank 1 never joins; rank 1 fails and aborts.
// The job must end (MPI_Abort ends every rank), not hang.
import { initMpi } from '../../src/index.js';

const mpi = initMpi();
if (mpi.rank === 1) {
  await new Promise((r) => setTimeout(r, 300));
  process.stderr.write(`rank 1 of ${mpi.size} failed: test failure; aborting the job (MPI_Abort)\n`);
  mpi.abort(3);
}
mpi.allReduceSum(new Float32Array(1000));
console.log(`rank ${mpi.rank}: all-reduce returned (it should not have)`);
mpi.finalize();
