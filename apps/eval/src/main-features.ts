// CLI entry of `nx run eval:features`: checkpoint + input batch -> features.i (+ logits) in safetensors.
import { selectBackend } from '@aim/model';
import { parseFeaturesArgs, UsageError } from './cli-args.js';
import { featuresCommand } from './features-command.js';

try {
  const args = parseFeaturesArgs(process.argv.slice(2));
  const backend = await selectBackend(args.backend ?? 'auto');
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const names = await featuresCommand(args);
  console.log(`wrote ${args.out}: ${names.join(', ')}`);
} catch (err) {
  console.error(err instanceof UsageError ? err.message : `eval:features failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
