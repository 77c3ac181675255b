/**
 * The cluster secret of dynamic mode, where nodes started by someone else
 * join the head and must prove the same secret: from `MOSAIC_SECRET`, from a
 * file only its owner can read, or made by the head and written to such a
 * file. Started children always get it from their launcher instead.
 */
import { chmodSync, openSync, readFileSync, statSync, writeSync, closeSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { SECRET_ENV, takeSecretFromEnv } from "../comms/handshake.ts";
import { InvalidArgumentError } from "../errors.ts";

/** The secret in `path`, which must belong to this user and be readable by nobody else. */
export function readSecretFile(path: string): string {
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    throw new InvalidArgumentError(`secret file ${path} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new InvalidArgumentError(
      `secret file ${path} can be read by others (mode ${(stat.mode & 0o777).toString(8)}): make it readable by its owner only (chmod 600 ${path})`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) throw new InvalidArgumentError(`secret file ${path} belongs to user ${stat.uid}, not to this user (${uid})`);
  const secret = readFileSync(path, "utf8").trim();
  if (secret === "") throw new InvalidArgumentError(`secret file ${path} is empty`);
  return secret;
}

/**
 * The secret a dynamic head or a joining node uses: `MOSAIC_SECRET` (taken
 * out of the environment, as children do), else `secretFile`; undefined when
 * neither is given.
 */
export function givenSecret(secretFile: string): string | undefined {
  const fromEnv = process.env[SECRET_ENV] ? takeSecretFromEnv() : undefined;
  if (fromEnv) return fromEnv;
  return secretFile ? readSecretFile(secretFile) : undefined;
}

/** `secret` written to `folder/secret` with mode 600 (created that way: never readable by others, not even briefly). */
export function writeSecretFile(folder: string, secret: string): string {
  mkdirSync(folder, { recursive: true });
  const path = join(folder, "secret");
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, `${secret}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600); // the umask could only have removed bits; this states the mode outright
  return path;
}
