// A drained VM's archive on its way between two nodes (src/cluster/node.ts moves()): encrypted
// with AES-256-GCM under a key made for this one move, which travels through etcd beside the
// URL and checksum (sealed under the cluster key when the agents have one). The HTTP transfer
// itself is plain: someone on the path between the nodes sees bytes they cannot read, and any
// change to them fails the checksum and the GCM tag (the move fails; the VM stays on its source).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, createReadStream, createWriteStream, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { SvcdupError } from '../errors.js';

const IV = 12;
const TAG = 16;

/** Write `src` encrypted to `dst` (IV, ciphertext, tag); returns the key, hex. */
export async function encryptArchive(src: string, dst: string): Promise<string> {
  const key = randomBytes(32);
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', key, iv);
  writeFileSync(dst, iv);
  await pipeline(createReadStream(src), c, createWriteStream(dst, { flags: 'a' }));
  appendFileSync(dst, c.getAuthTag());
  return key.toString('hex');
}

/** Decrypt `src` (as encryptArchive wrote it) to `dst`; refuses bytes changed on the way. */
export async function decryptArchive(src: string, dst: string, keyHex: string, from: string): Promise<void> {
  const size = statSync(src).size;
  if (size < IV + TAG) throw new SvcdupError(`the archive from ${from} is truncated (${size} bytes)`);
  const head = Buffer.alloc(IV);
  const tag = Buffer.alloc(TAG);
  const fd = openSync(src, 'r');
  try {
    readSync(fd, head, 0, IV, 0);
    readSync(fd, tag, 0, TAG, size - TAG);
  } finally {
    closeSync(fd);
  }
  const d = createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), head);
  d.setAuthTag(tag);
  try {
    await pipeline(createReadStream(src, { start: IV, end: size - TAG - 1 }), d, createWriteStream(dst));
  } catch {
    throw new SvcdupError(`the archive from ${from} does not open with its move's key (changed on the way?)`);
  }
}
