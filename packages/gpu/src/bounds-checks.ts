// Dawn's bounds checks ("robustness"): unless the device toggle `disable_robustness` is on, Tint clamps every
// storage-buffer index to its binding (one more min() per access in every kernel, the GEMM's operand loads among them).
// Browsers keep them for untrusted pages. The engine's kernels index only inside their bindings: its tests and the
// device parity run without the clamps, and a step computes the same bits with them (test/bounds-checks.test.ts). So
// the trainer and the eval app build the engine's device without them unless asked (`--gpu-bounds-checks on`: to rule
// the engine out when a GPU computes nonsense). The npm `webgpu` binding applies the toggles named in
// create(['enable-dawn-features=...']) to the adapter and to every device requested from it; there is no WebGPU API to
// read a device's toggles back, so `boundsCheck` observes the toggle's effect instead.

/** The Dawn toggle that turns its robustness transform off. */
export const DISABLE_ROBUSTNESS = 'disable_robustness';

/** The flags of npm `webgpu`'s `create()` that turn Dawn's toggles `enable` on and `disable` off, for every device of that instance. */
export function dawnToggleFlags(enable: readonly string[], disable: readonly string[] = []): string[] {
  return [
    ...(enable.length > 0 ? [`enable-dawn-features=${enable.join(',')}`] : []),
    ...(disable.length > 0 ? [`disable-dawn-features=${disable.join(',')}`] : []),
  ];
}

/** The flags of the engine's Dawn instance, as the trainer and the eval app open it: without bounds checks unless `boundsChecks`. */
export const engineDawnFlags = (boundsChecks = false): string[] => (boundsChecks ? [] : dawnToggleFlags([DISABLE_ROBUSTNESS]));

/** What one read past the end of a binding returned on a device (`boundsCheck`). */
export type BoundsCheck = 'clamped' | 'zero' | 'unchecked' | string;

/**
 * What one out-of-bounds read returns: 'clamped' (Tint's robustness: the binding's last element), 'zero' (no clamp;
 * the driver's own robust buffer access returned 0) or 'unchecked' (no clamp and no driver check: the element past the
 * binding). The read stays inside the buffer, past the end of a 4-element binding of it, so no variant can fault.
 */
export async function boundsCheck(device: GPUDevice): Promise<BoundsCheck> {
  const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(1) fn main() { dst[0] = src[u32(src[0])]; }`;
  const module = device.createShaderModule({ code });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  // src[0] = 4 is the index read (not a constant, so the compiler cannot reject or fold it); 7 is the binding's last
  // element, 42 the buffer's elements past the binding.
  const values = new Float32Array(64).fill(42);
  values.set([4, 1, 2, 7]);
  const src = device.createBuffer({ size: values.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const dst = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    device.queue.writeBuffer(src, 0, values);
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: src, offset: 0, size: 16 } },
        { binding: 1, resource: { buffer: dst } },
      ],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(dst, 0, read, 0, 4);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(read.getMappedRange())[0];
    read.unmap();
    return got === 7 ? 'clamped' : got === 0 ? 'zero' : got === 42 ? 'unchecked' : `read ${got}`;
  } finally {
    src.destroy();
    dst.destroy();
    read.destroy();
  }
}
