// Class names for a probe: what the browser page and the confusion matrix show instead of label numbers. Labels are
// integers in the shards, so the names come from the user (--class-names) or, for the built-in MNIST, are its digits.
import { readFileSync } from 'node:fs';
import { UsageError } from './cli-args.js';

/** Metadata key under which eval:probe records the class names (a JSON list, in label order) in probe.safetensors. */
export const CLASS_NAMES_METADATA_KEY = 'aim.class_names';

const isMnist = (spec: string) => spec === 'mnist' || spec.startsWith('mnist:');

/**
 * The names for labels 0..numClasses-1: `--class-names a,b,c` or `@file` (one name per line), else the digits when both
 * splits are the built-in MNIST, else undefined (nothing is recorded and viewers show the label number).
 */
export function resolveClassNames(flag: string | undefined, data: { train: string; test: string }, numClasses: number): string[] | undefined {
  if (flag === undefined) {
    return isMnist(data.train) && isMnist(data.test) ? Array.from({ length: numClasses }, (_, i) => String(i)) : undefined;
  }
  let names: string[];
  if (flag.startsWith('@')) {
    const path = flag.slice(1);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new UsageError(`--class-names: cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    names = text.split(/\r?\n/).map((l) => l.trim());
    while (names.length > 0 && names.at(-1) === '') names.pop();
  } else {
    names = flag.split(',').map((n) => n.trim());
  }
  const empty = names.indexOf('');
  if (empty >= 0) throw new UsageError(`--class-names: name ${empty} (label ${empty}) is empty`);
  if (names.length !== numClasses) {
    throw new UsageError(`--class-names: ${names.length} names for ${numClasses} classes (the data's labels are 0..${numClasses - 1})`);
  }
  return names;
}
