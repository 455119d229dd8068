// Prints MPI's include folders or link flags for binding.gyp, from the MPI compiler wrapper (`mpicc --showme:*` for
// Open MPI, `mpicc -show` for MPICH).
'use strict';
const { execFileSync } = require('node:child_process');

function wrapperFlags() {
  const mpicc = process.env.MPICC || 'mpicc';
  try {
    return {
      compile: execFileSync(mpicc, ['--showme:compile'], { encoding: 'utf8' }).trim().split(/\s+/),
      link: execFileSync(mpicc, ['--showme:link'], { encoding: 'utf8' }).trim().split(/\s+/),
    };
  } catch {
    const all = execFileSync(mpicc, ['-show'], { encoding: 'utf8' }).trim().split(/\s+/).slice(1);
    return { compile: all.filter((f) => f.startsWith('-I')), link: all.filter((f) => /^-(L|l|Wl)/.test(f)) };
  }
}

module.exports = { wrapperFlags };
if (require.main === module) {
  const flags = wrapperFlags();
  const what = process.argv[2];
  if (what === 'include')
    console.log(
      flags.compile
        .filter((f) => f.startsWith('-I'))
        .map((f) => f.slice(2))
        .join(' '),
    );
  else if (what === 'link') console.log(flags.link.join(' '));
  else throw new Error('usage: mpi-flags.cjs include|link');
}
