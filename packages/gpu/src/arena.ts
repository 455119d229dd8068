// The parameter arena: every trainable tensor at a fixed offset in a few large chunks, laid out once per model.
// Gradients and both AdamW moments use the same layout in chunks of their own, so one dispatch updates a chunk.
// Weight-decayed tensors come first in each chunk: AdamW decays the elements below the chunk's `decayEnd`.
import type { ParameterSpec } from '@aim/model/spec';

export interface ArenaSlot {
  readonly spec: ParameterSpec;
  readonly chunk: number;
  /** Element offset inside the chunk. */
  readonly offset: number;
  readonly size: number;
}

export interface ArenaChunk {
  readonly floats: number;
  /** Elements [0, decayEnd) belong to weight-decayed tensors. */
  readonly decayEnd: number;
}

export interface ArenaLayout {
  readonly slots: ReadonlyMap<string, ArenaSlot>;
  readonly chunks: readonly ArenaChunk[];
  readonly parameterCount: number;
}

/** Offsets are multiples of 4 elements (16 bytes). A norm's weight and bias stay adjacent (LayerNorm kernels rely on it). */
const ALIGN = 4;

export function layoutArena(specs: readonly ParameterSpec[], maxChunkFloats: number): ArenaLayout {
  const ordered = [...specs.filter((s) => s.decay), ...specs.filter((s) => !s.decay)];
  const slots = new Map<string, ArenaSlot>();
  const chunks: { floats: number; decayEnd: number }[] = [];
  let current = { floats: 0, decayEnd: 0 };
  let parameterCount = 0;
  for (const spec of ordered) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (size > maxChunkFloats) {
      throw new Error(`parameter '${spec.name}' (${size} values) exceeds one storage binding (${maxChunkFloats} values)`);
    }
    const offset = Math.ceil(current.floats / ALIGN) * ALIGN;
    if (offset + size > maxChunkFloats) {
      chunks.push(current);
      current = { floats: 0, decayEnd: 0 };
      slots.set(spec.name, { spec, chunk: chunks.length, offset: 0, size });
      current.floats = size;
    } else {
      slots.set(spec.name, { spec, chunk: chunks.length, offset, size });
      current.floats = offset + size;
    }
    if (spec.decay) current.decayEnd = current.floats;
    parameterCount += size;
  }
  chunks.push(current);
  return { slots, chunks: chunks.map((c) => ({ floats: Math.ceil(c.floats / ALIGN) * ALIGN, decayEnd: c.decayEnd })), parameterCount };
}
