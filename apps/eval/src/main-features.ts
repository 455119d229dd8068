// CLI entry of `nx run eval:features`: checkpoint + input batch -> features.i (+ logits) in safetensors.
import { main, type CommandDefinition } from '@aim/cli';
import { selectBackend } from '@aim/model';
import { FEATURES_FLAGS, FEATURES_USAGE, featuresArgsFromCli } from './cli-args.js';
import { featuresCommand } from './features-command.js';

export const FEATURES_COMMAND: CommandDefinition = {
  name: 'eval:features',
  usage: FEATURES_USAGE,
  spec: { flags: FEATURES_FLAGS },
  run: async (cli, io) => {
    const args = featuresArgsFromCli(cli);
    const backend = await selectBackend(args.backend ?? 'auto');
    io.stderr.write(`backend: ${backend.name} (${backend.reason})\n`);
    const names = await featuresCommand(args);
    io.stdout.write(`wrote ${args.out}: ${names.join(', ')}\n`);
    return 0;
  },
};

main(FEATURES_COMMAND);
