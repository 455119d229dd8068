// `npm test`: every project's tests through Nx (arguments are passed on, e.g. `npm test -- --projects=data`). Nx
// streams the projects' output interleaved, so a failure can scroll far above the end of a long log; when the run
// fails, the failed tests and their messages are printed again at the end, gathered from the JSON results each
// project leaves in .test-results/ (see vitest.shared.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = join(root, '.test-results');
rmSync(resultsDir, { recursive: true, force: true }); // only this run's results are reported

const nx = spawnSync('npx', ['nx', 'run-many', '-t', 'test', '--output-style=stream', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
const status = nx.status ?? 1;
if (status !== 0) printFailures();
process.exit(status);

function printFailures() {
  const files = existsSync(resultsDir) ? readdirSync(resultsDir).filter((f) => f.endsWith('.json')) : [];
  const lines = [];
  for (const file of files.sort()) {
    let report;
    try {
      report = JSON.parse(readFileSync(join(resultsDir, file), 'utf8'));
    } catch (err) {
      lines.push(`${file}: unreadable results (${err.message})`);
      continue;
    }
    const project = file.replace(/\.json$/, '');
    for (const suite of report.testResults ?? []) {
      const where = `${project}: ${suite.name.startsWith(root) ? suite.name.slice(root.length) : suite.name}`;
      const failed = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
      for (const t of failed) lines.push(`FAILED ${where} > ${t.fullName}`, ...t.failureMessages.map((m) => indent(firstLines(m, 30))));
      if (suite.status === 'failed' && failed.length === 0) lines.push(`FAILED ${where} (the file itself)`, indent(firstLines(suite.message ?? '', 30)));
    }
    if (report.success === false && !(report.testResults ?? []).some((s) => s.status === 'failed'))
      lines.push(`FAILED ${project}: the run failed outside any test (an unhandled error; see its output above)`);
  }
  console.error(`\n===== failed tests (${files.length} projects reported results) =====`);
  console.error(lines.length ? lines.join('\n') : 'none recorded: a project failed before its tests ran (see the Nx summary above)');
}

function firstLines(raw, n) {
  const text = stripVTControlCharacters(raw); // colours do not survive a log file
  // Stack frames inside the test runner or Node say nothing about the failure.
  const all = text.split('\n').filter((line) => !/^\s+at .*(node_modules|node:internal|<anonymous>)/.test(line));
  return (all.length > n ? [...all.slice(0, n), `... (${all.length - n} more lines)`] : all).join('\n');
}

function indent(text) {
  return text.replace(/^/gm, '    ');
}
