// npm install hook of @aim/vulkan-device: compiles the Vulkan layer (one C file, no headers beyond libc's) into build/
// with the system's C compiler, next to its manifest. Without a compiler the build is skipped with a message and the
// install succeeds: only several ranks on one multi-GPU machine need the layer.
'use strict';
const { spawnSync } = require('node:child_process');
const { copyFileSync, mkdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const build = join(root, 'build');
const say = (m) => console.log(`@aim/vulkan-device: ${m}`);

if (process.platform !== 'linux') {
  say(`skipped: the layer is for Linux's Vulkan loader (this is ${process.platform})`);
  process.exit(0);
}
const cc = process.env.CC || 'cc';
rmSync(build, { recursive: true, force: true });
mkdirSync(build, { recursive: true });
const out = join(build, 'libVkLayer_aim_one_device.so');
const r = spawnSync(cc, ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', '-Wall', '-o', out, join(root, 'src', 'one-device-layer.c'), '-lpthread'], {
  encoding: 'utf8',
});
if (r.error || r.status !== 0) {
  process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}\n`);
  say(
    `skipped: '${cc}' could not build the layer (${r.error ? r.error.message : `exit ${r.status}`}); ranks on one machine will share its first GPU. apt-get install gcc, then npm rebuild @aim/vulkan-device`,
  );
  rmSync(build, { recursive: true, force: true });
  process.exit(0);
}
copyFileSync(join(root, 'VkLayer_aim_one_device.json'), join(build, 'VkLayer_aim_one_device.json'));
say(`built ${out}`);
