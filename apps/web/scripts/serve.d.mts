import type { Server } from 'node:http';

export declare const NO_PROBE_MESSAGE: string;
export declare function newestProbe(dir: string): string | null;
export declare function startServer(options?: {
  port?: number;
  host?: string;
  probe?: string | null;
  root?: string;
  dist?: string;
}): Promise<{ server: Server; url: string }>;
