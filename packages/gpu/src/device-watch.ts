// What a GPUDevice reports outside any error scope: validation and out-of-memory errors of work already submitted,
// and the loss of the device. WebGPU delivers these only as events and carries on after them (a failed command does
// nothing), so a run that did not watch for them would go on computing from whatever its buffers held. The runtime
// checks this watch at every submit and host read and stops with the first error.

/** The device reported an error outside an error scope, or was lost: what the GPU computed since cannot be trusted. */
export class GpuDeviceError extends Error {
  override readonly name = 'GpuDeviceError';
}

/** GPUDevice's EventTarget side (this package builds without the DOM typings that declare it). */
interface UncapturedErrorTarget {
  addEventListener(type: 'uncapturederror', listener: (event: GPUUncapturedErrorEvent) => void): void;
  removeEventListener(type: 'uncapturederror', listener: (event: GPUUncapturedErrorEvent) => void): void;
}

export class DeviceWatch {
  private firstError: string | undefined;
  private errors = 0;
  private lost: string | undefined;
  private readonly onError = (event: GPUUncapturedErrorEvent): void => {
    this.errors += 1;
    this.firstError ??= event.error.message.split('\n')[0];
  };

  constructor(private readonly device: GPUDevice) {
    (device as unknown as UncapturedErrorTarget).addEventListener('uncapturederror', this.onError);
    void device.lost.then((info) => {
      this.lost = `${info.reason}${info.message ? `: ${info.message.split('\n')[0]}` : ''}`;
    });
  }

  /** Throws a GpuDeviceError naming the first error (and how many followed) or the loss, if either happened. */
  check(): void {
    if (this.lost !== undefined) throw new GpuDeviceError(`the GPU device was lost (${this.lost})`);
    if (this.firstError !== undefined) {
      const more = this.errors > 1 ? ` (and ${this.errors - 1} more)` : '';
      throw new GpuDeviceError(`the GPU device reported an error: ${this.firstError}${more}`);
    }
  }

  dispose(): void {
    (this.device as unknown as UncapturedErrorTarget).removeEventListener('uncapturederror', this.onError);
  }
}
