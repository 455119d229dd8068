import { defineAimVitestConfig } from '../../vitest.shared.js';

export default defineAimVitestConfig();
