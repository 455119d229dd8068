// npm install hook of @aim/mpi: builds the addon with node-gyp against local headers only (Node's from this Node's
// installation or the node-api-headers package, MPI's from mpicc). Without MPI's headers the build is skipped, with
// a message, and the install succeeds: only distributed training needs the addon.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, rmSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
const say = (m) => console.log(`@aim/mpi: ${m}`);
const APT = 'apt-get install openmpi-bin libopenmpi-dev';

if (process.env.AIM_MPI_SKIP_BUILD) {
  say('AIM_MPI_SKIP_BUILD is set: addon build skipped');
  process.exit(0);
}

function mpiHeaders() {
  try {
    const { wrapperFlags } = require('./mpi-flags.cjs');
    const dirs = wrapperFlags()
      .compile.filter((f) => f.startsWith('-I'))
      .map((f) => f.slice(2));
    return dirs.some((d) => existsSync(join(d, 'mpi.h')));
  } catch {
    return false;
  }
}

// node-gyp downloads Node's headers unless nodedir names a folder holding include/node/node_api.h.
function nodeDir() {
  const candidates = [process.env.npm_config_nodedir, join(dirname(process.execPath), '..'), '/usr', '/usr/local'];
  for (const d of candidates) if (d && existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi'))) return d;
  return null;
}

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  for (const p of [join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')])
    if (existsSync(p)) return p;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

if (!mpiHeaders()) {
  say(`skipped: MPI's headers were not found (no mpicc, or no mpi.h). Distributed training needs them: ${APT}, then npm rebuild @aim/mpi`);
  process.exit(0);
}
const dir = nodeDir();
if (!dir) {
  say(`skipped: Node's headers were not found locally (include/node/node_api.h next to ${process.execPath}); set npm_config_nodedir`);
  process.exit(0);
}
const gyp = nodeGyp();
if (!gyp) {
  say('skipped: node-gyp was not found (npm ships it; set npm_config_node_gyp)');
  process.exit(0);
}
rmSync(join(root, 'build'), { recursive: true, force: true });
// Quiet unless it fails: the install shows one line for this package (the root .npmrc runs install scripts in the
// foreground so that this line, or the skip above, is seen).
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${dir}`], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, npm_config_nodedir: dir },
});
if (r.status !== 0) {
  process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-40).join('\n') + '\n');
  say(`build failed (exit ${r.status}); the install goes on without the addon. Distributed training needs it: ${APT}, then npm rebuild @aim/mpi`);
  process.exit(0);
}
say(`built ${join(root, 'build', 'Release', 'aim_mpi.node')} (Node headers from ${dir}, MPI from mpicc)`);
