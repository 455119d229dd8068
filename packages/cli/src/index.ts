// @aim/cli: the command-line dialect trainer:train, eval:probe, eval:features and aim-shards share.
export { UsageError, checkChoice, intFlag, numberFlag, parseCommandLine, type CommandLine, type CommandLineSpec, type FlagSpec } from './parse.js';
export { main, oneLine, runCommand, type CommandDefinition, type CommandIo } from './run.js';
export { StatusLine, type StatusStream } from './status-line.js';
export { closestMatch, didYouMean, editDistance } from './suggest.js';
