// Writing a file so that a reader, or a crash at any moment, sees either the old content or the whole new content,
// never a torn file: write a temporary file in the same folder (a rename is atomic only within one file system),
// fsync it, rename it over the final name, then fsync the folder so the rename itself survives a power loss.
// A failure removes the temporary file. Node only (kept apart from the browser-safe modules of this package).
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * A fresh temporary name beside `path`: hidden (so a listing of the folder does not show it as a result) and unique
 * per process and call (so concurrent writers of one path never share a temporary file). It contains `.tmp-`.
 */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** fsync of a file or a folder by its path (a folder's fsync makes the renames in it durable). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A file being written under a temporary name beside its final `path`: write through `handle`, then `commit()` makes
 * the whole content appear at `path` at once, or `abort()` removes it and leaves `path` as it was.
 */
export class AtomicFile {
  private constructor(
    readonly path: string,
    readonly temporaryPath: string,
    readonly handle: FileHandle,
  ) {}

  /** Creates the temporary file (exclusively: an existing file of that name is an error, never overwritten). */
  static async open(path: string): Promise<AtomicFile> {
    const temporaryPath = temporaryPathFor(path);
    return new AtomicFile(path, temporaryPath, await open(temporaryPath, 'wx'));
  }

  /** fsync, close, rename into place, fsync the folder. If any step fails, the temporary file is removed. */
  async commit(): Promise<void> {
    try {
      await this.handle.sync();
      await this.handle.close();
      await rename(this.temporaryPath, this.path);
    } catch (error) {
      await this.abort();
      throw error;
    }
    fsyncPath(dirname(this.path));
  }

  /** Closes and removes the temporary file; the final path is untouched. Safe to call after a failed commit. */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined); // already closed, or the error being handled made it unusable
    await rm(this.temporaryPath, { force: true });
  }
}

/**
 * Writes `path` atomically. `content` is the bytes, or a function that writes them through the file's handle (to
 * stream a large file); if it throws, the temporary file is removed, `path` keeps its old content and the error
 * propagates.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array | ((handle: FileHandle) => Promise<void>)): Promise<void> {
  const file = await AtomicFile.open(path);
  try {
    if (typeof content === 'function') await content(file.handle);
    else await file.handle.writeFile(content);
  } catch (error) {
    await file.abort();
    throw error;
  }
  await file.commit();
}

/** {@link writeFileAtomic} for small files written synchronously (a checkpoint's state, a pointer, a config). */
export function writeFileAtomicSync(path: string, content: string | Uint8Array): void {
  const temporaryPath = temporaryPathFor(path);
  try {
    writeFileSync(temporaryPath, content, { flag: 'wx' });
    fsyncPath(temporaryPath);
    renameSync(temporaryPath, path);
  } catch (error) {
    rmSync(temporaryPath, { force: true });
    throw error;
  }
  fsyncPath(dirname(path));
}
