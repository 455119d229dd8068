// Dawn's robustness: unless the device toggle `disable_robustness` is on, Tint clamps every storage-buffer index to
// the binding (one more min() per access in every kernel). The npm `webgpu` binding applies the toggles named in
// create(['enable-dawn-features=...']) to the adapter and to every device requested from it; there is no WebGPU API to
// read a device's toggles back, so `boundsCheck` observes the toggle's effect instead.

/** The Dawn toggle that turns its robustness transform off. */
export const DISABLE_ROBUSTNESS = 'disable_robustness';

/**
 * What one out-of-bounds read returns: 'clamped' (Tint's robustness: the binding's last element), 'zero' (no clamp;
 * the driver's own robust buffer access returned 0) or 'unchecked' (no clamp and no driver check: the element past the
 * binding). The read stays inside the buffer, past the end of a 4-element binding of it, so no variant can fault.
 */
export async function boundsCheck(device: GPUDevice): Promise<'clamped' | 'zero' | 'unchecked' | string> {
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
