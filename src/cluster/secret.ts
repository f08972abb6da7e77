// `set:` values travel through etcd sealed (AES-256-GCM) under a cluster key that `apply` and
// every node agent read from a file (--secret-key): a password set with `set:` is never in
// etcd in clear. The file's bytes are hashed to the 256-bit key, so any long random file does.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { SvcdupError, UsageError } from '../errors.js';

const PREFIX = 'sealed:v1:';

export interface ClusterKey {
  key: Buffer;
}

export function readClusterKey(file: string): ClusterKey {
  let bytes: Buffer;
  try {
    if (statSync(file).mode & 0o077) throw new UsageError(`--secret-key ${file}: readable by others (chmod 600 it)`);
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--secret-key ${file}: ${(err as Error).message}`);
  }
  if (bytes.length < 32) throw new UsageError(`--secret-key ${file}: ${bytes.length} bytes; give at least 32 random bytes (head -c 32 /dev/urandom > FILE)`);
  return { key: createHash('sha256').update(bytes).digest() };
}

export const isSealed = (s: string): boolean => s.startsWith(PREFIX);

export function seal(k: ClusterKey, plain: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', k.key, iv);
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

export function unseal(k: ClusterKey | undefined, sealed: string): string {
  if (!isSealed(sealed)) return sealed;
  if (!k) throw new SvcdupError('an assignment carries sealed set: values: start the node agent with --secret-key FILE (the cluster key apply used)');
  const b = Buffer.from(sealed.slice(PREFIX.length), 'base64');
  try {
    const d = createDecipheriv('aes-256-gcm', k.key, b.subarray(0, 12));
    d.setAuthTag(b.subarray(12, 28));
    return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
  } catch {
    throw new SvcdupError('a sealed set: value does not open with this --secret-key (another cluster key?)');
  }
}

/** A keyed hash of the plain group: its spec identity without sealing's randomness, and no guessable hash in etcd. */
export const keyedHash = (k: ClusterKey, text: string): string => createHmac('sha256', k.key).update(text).digest('hex').slice(0, 16);
