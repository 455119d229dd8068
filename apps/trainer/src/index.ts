// apps/trainer's importable parts (the command itself is src/main.ts): argv parsing, resume planning, progress output.
export { parseArgs, usage, type CliCommand } from './cli.js';
export { planResume, newestRunCheckpoint, RUNS_ROOT, type ResumePlan } from './resume.js';
export { formatProgress, formatDuration, ProgressLine, type ProgressFields } from './progress.js';
