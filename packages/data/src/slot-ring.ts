// The shared memory the loader's workers write their patches into.

/**
 * Fixed slots of shared memory, one per task in flight: workers write patches straight into a slot, the main thread
 * copies the slot into its batch. Nothing is allocated or transferred per image, which keeps the main thread's
 * garbage collector (driven by external memory) quiet.
 */
export class SlotRing {
  readonly buffer: SharedArrayBuffer;
  private readonly free: number[];
  constructor(
    readonly slots: number,
    private readonly slotFloats: number,
  ) {
    this.buffer = new SharedArrayBuffer(slots * slotFloats * 4);
    this.free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  }
  take(): number {
    const slot = this.free.pop();
    if (slot === undefined) throw new Error('SlotRing: no free slot (more tasks in flight than prefetch allows)');
    return slot;
  }
  release(slot: number): void {
    this.free.push(slot);
  }
  view(slot: number): Float32Array {
    return new Float32Array(this.buffer, slot * this.slotFloats * 4, this.slotFloats); // [K, p*p*3]
  }
}
