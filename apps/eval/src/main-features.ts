// CLI entry of `nx run eval:features`: checkpoint + input batch -> features.i (+ logits) in safetensors.
import { main, type CommandDefinition } from '@aim/cli';
import { ConfigError, openGpuTiles, selectCompute } from '@aim/train';
import { FEATURES_FLAGS, FEATURES_USAGE, featuresArgsFromCli } from './cli-args.js';
import { evalEngineTarget } from './extract.js';
import { featuresCommand } from './features-command.js';

export const FEATURES_COMMAND: CommandDefinition = {
  name: 'eval:features',
  usage: FEATURES_USAGE,
  spec: { flags: FEATURES_FLAGS },
  usageErrors: [ConfigError],
  run: async (cli, io) => {
    const args = featuresArgsFromCli(cli);
    const log = (line: string) => io.stderr.write(`${line}\n`);
    const gpuTiles = openGpuTiles(args.gpuTiles, args.cacheDir ?? 'cache', log); // a bad file is a usage error, before anything runs
    const compute = await selectCompute(args.backend ?? 'auto', { boundsChecks: args.gpuBoundsChecks });
    log(`backend: ${compute.backend} (${compute.reason})`);
    const engine = evalEngineTarget(compute, gpuTiles, log);
    let names;
    try {
      names = await featuresCommand(args, engine);
    } finally {
      compute.device?.destroy(); // before exit: Dawn tearing down live objects at process exit can crash
    }
    io.stdout.write(`wrote ${args.out}: ${names.join(', ')}\n`);
    return 0;
  },
};

main(FEATURES_COMMAND);
