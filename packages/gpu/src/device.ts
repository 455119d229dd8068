// Requests a GPUDevice with the limits the engine needs: the adapter's full storage-binding and buffer sizes.

/** Asks `adapter` for a device whose storage bindings and buffers are as large as the adapter allows. */
export async function requestEngineDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'aim-gpu engine',
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(l.maxStorageBuffersPerShaderStage, 10),
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: Math.min(l.maxComputeInvocationsPerWorkgroup, 256),
      maxComputeWorkgroupSizeX: Math.min(l.maxComputeWorkgroupSizeX, 256),
    },
  });
  return device;
}
