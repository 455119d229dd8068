// Validation during a run: the batches are read once and kept, so every evaluation sees the same images with the same
// prefixes and the losses are comparable along the run.
import type { RunParts } from './run-parts.js';
import type { StepRunner } from './step-runner.js';
import type { PatchBatchLike } from './train-step.js';

/** The first `count` batches of the validation stream (undefined: the run has no validation data). */
export async function readValidationBatches(parts: RunParts, count: number): Promise<PatchBatchLike[] | undefined> {
  if (!parts.openValData) return undefined;
  const val = await parts.openValData();
  const batches: PatchBatchLike[] = [];
  try {
    for await (const b of val.batches) {
      batches.push(b);
      if (batches.length >= count) break;
    }
  } finally {
    await val.close();
  }
  if (batches.length === 0) throw new Error('validation data gave no batches');
  return batches;
}

/** Validation loss over `batches` at `step`, reported through `onLoss`; undefined when there is no validation data. */
export function validator(
  runner: StepRunner,
  batches: readonly PatchBatchLike[] | undefined,
  onLoss: (step: number, loss: number, images: number) => void,
): (step: number) => Promise<number | undefined> {
  return async (step) => {
    if (!batches) return undefined;
    const { loss, images } = await runner.validate(batches);
    onLoss(step, loss, images);
    return loss;
  };
}
