// Which tfjs backends the model's parity, gradient and leak tests run on, and their parity tolerances.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

export interface BackendUnderTest {
  name: string;
  /** Largest relative error accepted against the golden fixtures. */
  relTol: number;
}

export const backendsUnderTest: readonly BackendUnderTest[] = [{ name: 'cpu', relTol: 1e-5 }];

export async function useBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend '${name}' failed to initialise`);
  await tf.ready();
}
