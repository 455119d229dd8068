/* The reference for bench/run.ts: in-place MPI_Allreduce (sum, float) of 1 MB..256 MB buffers, timed exactly as
   bench/allreduce-node.ts times the binding. Prints one line per size on rank 0: "<bytes> <seconds per call>". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  int provided, rank;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (size_t mb = 1; mb <= 256; mb *= 4) {
    size_t n = mb * 1024 * 1024 / sizeof(float);
    float* a = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = (float)(i % 97) * 0.01f;
    int iters = mb <= 4 ? 20 : mb <= 64 ? 6 : 3;
    double best = 1e30;
    MPI_Allreduce(MPI_IN_PLACE, a, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); /* warm-up */
    for (int it = 0; it < iters; it++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, a, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      double t = MPI_Wtime() - t0;
      if (t < best) best = t;
    }
    if (rank == 0) printf("%zu %.9f\n", mb * 1024 * 1024, best);
    fflush(stdout);
    free(a);
  }
  MPI_Finalize();
  return 0;
}
