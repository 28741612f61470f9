/**
 * Reading the dialer's id out of the first frame of a skein transport connection (the HELLO of
 * docs/transport.md), so the proxy knows which directed link a connection belongs to.
 *
 * Every node writes only on connections it dialed, so a connection from A to B carries exactly
 * the messages A sends to B: knowing the dialer is knowing the link.
 */

/** The most bytes a HELLO frame can take (length prefix, fixed fields, two name8 fields). */
export const MAX_HELLO_BYTES = 4 + 1 + 3 + 1 + 32 + 2 * 256;

const HELLO = 0x01;
const MAGIC = [0x53, 0x4b, 0x4e]; // "SKN"
const ID_OFFSET = 4 + 1 + 3 + 1 + 32; // length, type, magic, version, nonce

/**
 * The dialer id in `head` (the bytes received so far on a new connection): the id once the HELLO
 * has arrived far enough, `undefined` while more bytes are needed, `null` when this is not a
 * skein HELLO at all (then the proxy cannot attribute the connection and treats it as unknown).
 */
export function dialerIdOf(head: Buffer): string | null | undefined {
  if (head.length >= 8) {
    if (head[4] !== HELLO || MAGIC.some((byte, i) => head[5 + i] !== byte)) return null;
  }
  if (head.length < ID_OFFSET + 1) return head.length >= MAX_HELLO_BYTES ? null : undefined;
  const idLength = head[ID_OFFSET]!;
  if (idLength === 0) return null;
  if (head.length < ID_OFFSET + 1 + idLength) return undefined;
  return head.toString('utf8', ID_OFFSET + 1, ID_OFFSET + 1 + idLength);
}
