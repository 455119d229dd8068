#!/usr/bin/env node
// aim-shards executable: see run-cli.ts for the commands.
import { runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2));
